// The fused LayerNorm + M=1 product (kernels/ln_gemv.h). On the cpu: the reference against the
// separate cpu LayerNorm and matmul kernels it replaces, and the split plan's invariants. On a
// GPU: the CUDA kernel against the cpu reference fed the same dtype-rounded inputs, over odd and
// decode-sized shapes, B in {1, 3, 16}, both weight layouts, with and without bias, f32/bf16/f16,
// NaN-poisoned and guarded outputs, a padded output pitch, unaligned weights (the element-load
// path), and two runs compared bit for bit. Tolerances (scaled by the output's largest value,
// tests/gpu_test.h): f32 1e-5 (only the f32 accumulation order differs from the reference's
// double sums), bf16 1.6e-2 and f16 2e-3 (the output rounded once; the kernel keeps the
// normalised row in f32, as the reference does). The epilogues: an activation after the sum
// (against the reference's), and the argmax keys (the ids must be the greedy picks of the very
// logits the plain kernel stores, exactly; the keys reset by argmax_ids).
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "kernels/layernorm.h"
#include "kernels/ln_gemv.h"
#include "kernels/matmul.h"
#include "kernels/runtime.h"
#include "kernels/sampling.h"
#include "nn/tensor.h"
#include "tests/gpu_test.h"

namespace cugpt {
namespace {

using testing::DeviceArray;

constexpr float kEps = 1e-5f;
constexpr DType kDtypes[] = {DType::f32, DType::bf16, DType::f16};

struct Case {
  int B, K, N;
  bool in_out, bias;
  DType dtype = DType::f32;
  std::size_t offset = 0;  // of the weight: 1 breaks 16-byte alignment (element loads)
  int ld = 0;              // output pitch, 0 = N
};

std::string describe(const Case& c) {
  std::ostringstream s;
  s << dtype_name(c.dtype) << " B=" << c.B << " K=" << c.K << " N=" << c.N
    << (c.in_out ? " in_out" : " out_in") << (c.bias ? " bias" : " no-bias")
    << " offset=" << c.offset << " ld=" << c.ld;
  return s.str();
}

struct Inputs {
  std::vector<float> x, gamma, beta, w, bias;
};

// x with a mean of 3 (the statistics must remove it), gamma around 1, small beta and bias.
Inputs make_inputs(const Case& c, unsigned seed) {
  const auto K = static_cast<std::size_t>(c.K), N = static_cast<std::size_t>(c.N);
  Inputs in;
  in.x = testing::random_values(static_cast<std::size_t>(c.B) * K, seed);
  for (auto& v : in.x) v += 3.0f;
  in.gamma = testing::random_values(K, seed + 1, 0.5f);
  for (auto& v : in.gamma) v += 1.0f;
  in.beta = testing::random_values(K, seed + 2, 0.1f);
  in.w = testing::random_values(K * N, seed + 3, 1.0f / std::sqrt(static_cast<float>(c.K)));
  in.bias = testing::random_values(N, seed + 4, 0.1f);
  for (auto* v : {&in.x, &in.gamma, &in.beta, &in.w, &in.bias}) *v = testing::round_to(c.dtype, *v);
  return in;
}

// (B, ld) with NaN in the padding, as a poisoned output buffer holds it.
std::vector<float> reference(const Case& c, const Inputs& in,
                             const kernels::LnGemvEpilogue& epi = {}) {
  const int ld = c.ld ? c.ld : c.N;
  std::vector<float> out(static_cast<std::size_t>(c.B) * ld, NAN);
  kernels::ln_gemv_cpu(out.data(), in.x.data(), in.gamma.data(), in.beta.data(), in.w.data(),
                       c.bias ? in.bias.data() : nullptr, c.B, c.K, c.N, kEps, c.in_out, c.ld, epi);
  return out;
}

// Each row's greedy id of (B, ld) logits, as the device sampler picks it (largest, then lowest
// id; NaN as -inf).
std::vector<std::int32_t> greedy_ids(const std::vector<float>& logits, int B, int N, int ld) {
  std::vector<std::int32_t> ids(static_cast<std::size_t>(B));
  std::vector<std::uint64_t> states(static_cast<std::size_t>(B), 1);
  kernels::SamplingArgs a;
  a.B = B, a.V = N, a.ld = ld, a.logits = logits.data(), a.ids = ids.data();
  a.rng_states = states.data();
  kernels::sample_tokens_cpu(a);
  return ids;
}

// ---- cpu: the reference is the separate LayerNorm then matmul --------------------------------

// The first N columns of each (ld-wide) row of got against want's within tol; every padding
// element of got (a column past N) must still be the NaN it was poisoned with.
void expect_close_unpadded(const Case& c, const std::vector<float>& got,
                           const std::vector<float>& want, double tol) {
  const int ld = c.ld ? c.ld : c.N;
  std::vector<float> g, w;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (static_cast<int>(i % ld) >= c.N) {
      EXPECT_TRUE(std::isnan(got[i])) << "padding element " << i << " was written";
      continue;
    }
    g.push_back(got[i]), w.push_back(want[i]);
  }
  EXPECT_TRUE(testing::close(g, w, tol));
}

TEST(LnGemvCpu, MatchesLayerNormThenMatmul) {
  for (const Case& c :
       {Case{1, 37, 50, true, true}, Case{3, 37, 1, false, false}, Case{2, 768, 50, true, false},
        Case{4, 768, 33, false, true}, Case{1, 1600, 7, false, true},
        Case{3, 5, 9, true, true, DType::f32, 0, 12}}) {
    SCOPED_TRACE(describe(c));
    const Inputs in = make_inputs(c, 11);
    std::vector<float> ln(in.x.size());
    kernels::layernorm_forward_cpu(ln.data(), nullptr, nullptr, in.x.data(), in.gamma.data(),
                                   in.beta.data(), c.B, c.K, kEps);
    const int ld = c.ld ? c.ld : c.N;
    std::vector<float> want(static_cast<std::size_t>(c.B) * ld, NAN);
    kernels::matmul_forward_cpu(want.data(), ln.data(), in.w.data(),
                                c.bias ? in.bias.data() : nullptr, c.B, c.K, c.N, c.in_out, c.ld);
    // Eigen's f32 sums against the reference's double sums: a few f32 roundings of the scale.
    expect_close_unpadded(c, reference(c, in), want, 1e-5);
  }
}

// The LayerNorm is really applied: the product of the raw rows is far from the result.
TEST(LnGemvCpu, NormalisesBeforeTheProduct) {
  const Case c{2, 64, 8, false, false};
  const Inputs in = make_inputs(c, 5);
  std::vector<float> raw(static_cast<std::size_t>(c.B) * c.N);
  kernels::matmul_forward_cpu(raw.data(), in.x.data(), in.w.data(), nullptr, c.B, c.K, c.N, false);
  EXPECT_FALSE(testing::close(reference(c, in), raw, 0.1));
}

TEST(LnGemvCpu, ActivationFollowsTheSum) {
  const Case c{3, 64, 40, true, true};
  const Inputs in = make_inputs(c, 13);
  const std::vector<float> plain = reference(c, in);
  for (const auto act :
       {kernels::Activation::relu, kernels::Activation::gelu_tanh, kernels::Activation::gelu_erf}) {
    kernels::LnGemvEpilogue epi;
    epi.act = &act;
    std::vector<float> want = plain;
    kernels::activation_forward_cpu(want.data(), want.data(), want.size(), act);
    const std::vector<float> got = reference(c, in, epi);
    EXPECT_TRUE(testing::identical(got, want)) << static_cast<int>(act);
    EXPECT_FALSE(testing::close(got, plain, 1e-3)) << "the activation did nothing";
  }
}

// The argmax epilogue's keys name the greedy ids of the logits the plain reference stores, a
// larger key already there stays, and argmax_ids resets the keys. A tie at the row's largest
// value goes to the lower id.
TEST(LnGemvCpu, ArgmaxKeysNameTheGreedyIds) {
  const Case c{4, 48, 300, false, true};
  Inputs in = make_inputs(c, 17);
  // Row 3's columns 7 and 250 the same weights: equal logits; lift them above the rest.
  for (int k = 0; k < c.K; ++k) in.w[250 * c.K + k] = in.w[7 * c.K + k];
  in.bias[7] = in.bias[250] = 50.f;
  const std::vector<float> logits = reference(c, in);
  std::vector<std::uint64_t> keys(static_cast<std::size_t>(c.B), 0);
  keys[1] = ~std::uint64_t{0};  // row 1 already holds a larger key
  kernels::LnGemvEpilogue epi;
  epi.argmax_keys = keys.data();
  std::vector<float> untouched(static_cast<std::size_t>(c.B) * c.N, NAN);
  kernels::ln_gemv_cpu(untouched.data(), in.x.data(), in.gamma.data(), in.beta.data(), in.w.data(),
                       in.bias.data(), c.B, c.K, c.N, kEps, c.in_out, 0, epi);
  for (float v : untouched) ASSERT_TRUE(std::isnan(v)) << "an output was stored";
  EXPECT_EQ(keys[1], ~std::uint64_t{0});
  std::vector<std::int32_t> ids(static_cast<std::size_t>(c.B), -1);
  kernels::argmax_ids_cpu(ids.data(), keys.data(), c.B, c.N);
  const std::vector<std::int32_t> want = greedy_ids(logits, c.B, c.N, c.N);
  for (int b : {0, 2, 3}) EXPECT_EQ(ids[b], want[b]) << "row " << b;
  EXPECT_EQ(want[3], 7);
  for (std::uint64_t k : keys) EXPECT_EQ(k, 0u) << "a key was not reset";
}

// The head's plan keeps K whole (so its argmax can be fused); a split product's cannot.
TEST(LnGemvCpu, ArgmaxFitsUnsplitPlansOnly) {
  for (DType t : kDtypes) {
    EXPECT_TRUE(kernels::ln_gemv_argmax_fits(1, 768, 50257, t, false));
    EXPECT_TRUE(kernels::ln_gemv_argmax_fits(16, 1600, 50257, t, false));
    EXPECT_FALSE(kernels::ln_gemv_argmax_fits(1, 768, 50, t, true));
  }
}

TEST(LnGemvCpu, PlanCoversKAndFitsSharedMemory) {
  for (DType t : kDtypes)
    for (bool in_out : {false, true})
      for (int K : {1, 37, 64, 768, 1600, 2049, 6400, 20000})
        for (int N : {1, 50, 768, 2304, 50257})
          for (int B : {1, 3, 64}) {
            const kernels::LnGemvPlan p = kernels::ln_gemv_plan(B, K, N, t, in_out);
            const int pack = 16 / static_cast<int>(dtype_size(t));
            SCOPED_TRACE(describe({B, K, N, in_out, false, t}));
            EXPECT_EQ(p.chunk % pack, 0);
            EXPECT_LE(p.chunk, kernels::kLnGemvMaxChunk);
            EXPECT_GE(static_cast<long>(p.splits) * p.chunk, K);      // every k in a chunk
            EXPECT_LT(static_cast<long>(p.splits - 1) * p.chunk, K);  // no empty chunk
            EXPECT_GE(static_cast<long>(p.tiles) * p.tile_cols, N);
            EXPECT_EQ(p.tile_cols % 16, 0);
            EXPECT_LE(p.smem_bytes, 48u << 10);
            EXPECT_EQ(kernels::ln_gemv_workspace_bytes(B, K, N, t, in_out),
                      p.splits == 1 ? 0 : std::size_t(4) * p.splits * B * N);
            // The split depends on the sizes only, not on B: a row's result does not change
            // with the batch it is decoded in.
            EXPECT_EQ(p.splits, kernels::ln_gemv_plan(1, K, N, t, in_out).splits);
          }
}

// GPT-2 124M's decode products fill an H100 (132 SMs) without a K split on the LM head.
TEST(LnGemvCpu, PlanForGpt2Decode) {
  const auto blocks = [](const kernels::LnGemvPlan& p) { return p.tiles * p.splits; };
  EXPECT_GE(blocks(kernels::ln_gemv_plan(1, 768, 2304, DType::bf16, true)), 100);  // c_attn
  EXPECT_GE(blocks(kernels::ln_gemv_plan(1, 768, 3072, DType::bf16, true)), 100);  // c_fc
  const kernels::LnGemvPlan head = kernels::ln_gemv_plan(1, 768, 50257, DType::bf16, false);
  EXPECT_EQ(head.splits, 1);
  EXPECT_EQ(head.tile_cols, 96);  // 6 groups of 16 columns share a prologue: 524 blocks
  EXPECT_GE(blocks(kernels::ln_gemv_plan(1, 768, 768, DType::bf16, false)), 100);  // Day-18 q
}

TEST(LnGemvCpu, PlanRejectsF64) {
  EXPECT_THROW(kernels::ln_gemv_plan(1, 8, 8, DType::f64, false), Error);
}

// ---- the CUDA kernel --------------------------------------------------------------------------

class CudaLnGemv : public testing::CudaTest {
 protected:
  void SetUp() override {
    CudaTest::SetUp();
    if (IsSkipped()) return;
    arena_ = Arena::create(Device::cuda(0), 1ull << 30);
  }

  // One launch into a fresh poisoned output (with epi's activation, if any); the (B, ld) values
  // come back.
  std::vector<float> run(const Case& c, const Inputs& in, const kernels::LnGemvEpilogue& epi = {}) {
    const int ld = c.ld ? c.ld : c.N;
    const auto K = static_cast<std::size_t>(c.K), N = static_cast<std::size_t>(c.N);
    DeviceArray x(arena_, in.x.size(), c.dtype), g(arena_, K, c.dtype), b(arena_, K, c.dtype),
        w(arena_, in.w.size(), c.dtype, c.offset), bias(arena_, N, c.dtype),
        out(arena_, static_cast<std::size_t>(c.B) * ld, c.dtype);
    x.upload(in.x), g.upload(in.gamma), b.upload(in.beta), w.upload(in.w), bias.upload(in.bias);
    const std::size_t ws_bytes = kernels::ln_gemv_workspace_bytes(c.B, c.K, c.N, c.dtype, c.in_out);
    DeviceArray ws(arena_, ws_bytes / 4 + 1, DType::f32);  // NaN: a partial never written shows
    kernels::ln_gemv_cuda(out.ptr(), x.ptr(), g.ptr(), b.ptr(), w.ptr(),
                          c.bias ? bias.ptr() : nullptr, c.B, c.K, c.N, kEps, c.in_out, c.dtype,
                          ws.ptr(), ws_bytes, nullptr, c.ld, epi);
    return out.download();
  }

  // The argmax epilogue over the same inputs: each row's id (after argmax_ids), run twice into
  // the same keys (reset by argmax_ids in between, as a replayed step does); the output buffer
  // must stay untouched.
  std::vector<std::int32_t> run_argmax(const Case& c, const Inputs& in) {
    const auto K = static_cast<std::size_t>(c.K), N = static_cast<std::size_t>(c.N);
    DeviceArray x(arena_, in.x.size(), c.dtype), g(arena_, K, c.dtype), b(arena_, K, c.dtype),
        w(arena_, in.w.size(), c.dtype), bias(arena_, N, c.dtype),
        out(arena_, static_cast<std::size_t>(c.B) * N, c.dtype);
    Tensor keys = Tensor::zeros(arena_, {2 * c.B}, DType::i32, Category::activation);
    Tensor ids = Tensor::zeros(arena_, {c.B}, DType::i32, Category::activation);
    x.upload(in.x), g.upload(in.gamma), b.upload(in.beta), w.upload(in.w), bias.upload(in.bias);
    kernels::LnGemvEpilogue epi;
    epi.argmax_keys = static_cast<std::uint64_t*>(keys.data());
    std::vector<std::int32_t> first;
    for (int pass = 0; pass < 2; ++pass) {
      kernels::ln_gemv_cuda(out.ptr(), x.ptr(), g.ptr(), b.ptr(), w.ptr(),
                            c.bias ? bias.ptr() : nullptr, c.B, c.K, c.N, kEps, c.in_out, c.dtype,
                            nullptr, 0, nullptr, 0, epi);
      kernels::argmax_ids_cuda(static_cast<std::int32_t*>(ids.data()),
                               static_cast<std::uint64_t*>(keys.data()), c.B, c.N, nullptr);
      std::vector<std::int32_t> got(static_cast<std::size_t>(c.B));
      ids.copy_to_host(got.data(), got.size() * 4);
      if (pass == 0) first = got;
      EXPECT_EQ(got, first) << "the second pass differs: keys not reset?";
    }
    for (float v : out.download()) EXPECT_TRUE(std::isnan(v)) << "a logit was stored";
    return first;
  }

  // Against the reference (the padding must still be NaN), and a second run bit for bit.
  void expect_matches(const Case& c) {
    SCOPED_TRACE(describe(c));
    const Inputs in = make_inputs(c, 7);
    const std::vector<float> want = reference(c, in), got = run(c, in);
    expect_close_unpadded(c, got, want, testing::tolerance(c.dtype));
    EXPECT_TRUE(testing::identical(run(c, in), got)) << "a second run differs";
  }

  std::shared_ptr<Arena> arena_;
};

TEST_F(CudaLnGemv, MatchesCpu) {
  struct Shape {
    int B, K, N;
    bool bias;
  };
  // Odd and decode-sized: C = 37, 768, 1600; N = 1, 50, 2304, 50257; B = 1, 3, 16. K = 4100
  // goes over the per-chunk limit, so even its wide products are split.
  const Shape shapes[] = {{1, 37, 50, true},      {3, 37, 1, false},      {16, 37, 2304, true},
                          {1, 768, 2304, true},   {3, 768, 50, false},    {16, 768, 1, true},
                          {16, 768, 2304, false}, {1, 1600, 2304, false}, {16, 1600, 50, true},
                          {1, 768, 50257, false}, {3, 1600, 50257, true}, {2, 4100, 40, true}};
  for (DType t : kDtypes)
    for (bool in_out : {false, true})
      for (const Shape& s : shapes) expect_matches({s.B, s.K, s.N, in_out, s.bias, t});
}

TEST_F(CudaLnGemv, UnalignedWeightsUseElementLoads) {
  for (DType t : kDtypes)
    for (bool in_out : {false, true}) {
      expect_matches({1, 768, 2304, in_out, true, t, 1});
      expect_matches({3, 64, 48, in_out, false, t, 1});
    }
}

// The padded logits pitch of kernels/matmul.h: only the first N columns of a row are written.
TEST_F(CudaLnGemv, PaddedOutputPitch) {
  for (DType t : kDtypes) {
    expect_matches({3, 768, 50257, false, false, t, 0, 50304});
    expect_matches({2, 37, 50, true, true, t, 0, 64});
  }
}

// GPT-2's c_fc with ln_2 folded in (K split: the reduction's epilogue) and odd shapes in
// either layout (the block's epilogue), for each activation.
TEST_F(CudaLnGemv, ActivationEpilogueMatchesCpu) {
  for (const auto act :
       {kernels::Activation::relu, kernels::Activation::gelu_tanh, kernels::Activation::gelu_erf}) {
    kernels::LnGemvEpilogue epi;
    epi.act = &act;
    for (DType t : kDtypes)
      for (const Case& c : {Case{1, 768, 3072, true, true, t}, Case{3, 37, 50, false, true, t},
                            Case{16, 64, 101, true, false, t}}) {
        SCOPED_TRACE(describe(c) + " act " + std::to_string(static_cast<int>(act)));
        const Inputs in = make_inputs(c, 9);
        EXPECT_TRUE(
            testing::close(run(c, in, epi), reference(c, in, epi), testing::tolerance(c.dtype)));
      }
  }
}

// The fused greedy pick names, for every row, the greedy id of the logits the plain kernel
// stores for the same inputs (the same sums, rounded alike): exactly, in every dtype. Shapes:
// the GPT-2 head at B = 1 and 3, the Day-18 head's bias, a batch of 16 rows over an odd width.
TEST_F(CudaLnGemv, ArgmaxEpilogueGivesTheGreedyIdsOfItsLogits) {
  for (DType t : kDtypes)
    for (const Case& c : {Case{1, 768, 50257, false, false, t}, Case{3, 768, 50257, false, true, t},
                          Case{16, 64, 301, false, true, t}}) {
      SCOPED_TRACE(describe(c));
      ASSERT_TRUE(kernels::ln_gemv_argmax_fits(c.B, c.K, c.N, c.dtype, c.in_out));
      const Inputs in = make_inputs(c, 21);
      const std::vector<std::int32_t> ids = run_argmax(c, in);
      EXPECT_EQ(ids, greedy_ids(run(c, in), c.B, c.N, c.N));
    }
}

// Three [Np, K] matrices side by side (Day-18's q, k and v) are one [3 Np, K] matrix: the same
// plan and sums, so the same bits; with biases, with an element-load offset, in every dtype.
TEST_F(CudaLnGemv, PartsAreOneConcatenatedMatrix) {
  for (DType t : kDtypes)
    for (const Case& c :
         {Case{1, 768, 3 * 768, false, true, t}, Case{3, 37, 3 * 50, false, false, t},
          Case{16, 64, 3 * 24, false, true, t, 1}}) {
      SCOPED_TRACE(describe(c));
      const Inputs in = make_inputs(c, 23);
      const std::vector<float> whole = run(c, in);
      const int Np = c.N / 3;
      const auto part_w = static_cast<std::size_t>(Np) * c.K;
      std::vector<std::unique_ptr<DeviceArray>> w, bias;
      kernels::LnGemvWeights parts;
      parts.parts = 3;
      for (int p = 0; p < 3; ++p) {
        w.push_back(std::make_unique<DeviceArray>(arena_, part_w, c.dtype, c.offset));
        w.back()->upload({in.w.begin() + p * part_w, in.w.begin() + (p + 1) * part_w});
        bias.push_back(std::make_unique<DeviceArray>(arena_, Np, c.dtype));
        bias.back()->upload({in.bias.begin() + p * Np, in.bias.begin() + (p + 1) * Np});
        parts.w[p] = w.back()->ptr();
        parts.bias[p] = c.bias ? bias.back()->ptr() : nullptr;
      }
      DeviceArray x(arena_, in.x.size(), c.dtype), g(arena_, in.gamma.size(), c.dtype),
          b(arena_, in.beta.size(), c.dtype), out(arena_, whole.size(), c.dtype);
      x.upload(in.x), g.upload(in.gamma), b.upload(in.beta);
      const std::size_t ws_bytes = kernels::ln_gemv_workspace_bytes(c.B, c.K, c.N, c.dtype, false);
      DeviceArray ws(arena_, ws_bytes / 4 + 1, DType::f32);
      kernels::ln_gemv_parts_cuda(out.ptr(), x.ptr(), g.ptr(), b.ptr(), parts, c.B, c.K, c.N, kEps,
                                  false, c.dtype, ws.ptr(), ws_bytes, nullptr);
      EXPECT_TRUE(testing::identical(out.download(), whole));
    }
}

// The argument checks come before any CUDA call: they run in a CUDA build without a GPU.
class CudaLnGemvChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_compiled()) GTEST_SKIP() << "cugpt was built without CUDA (CUGPT_CUDA=OFF)";
  }
};

TEST_F(CudaLnGemvChecks, RejectsF64AndBadSizes) {
  float d[4] = {};
  EXPECT_THROW(kernels::ln_gemv_cuda(d, d, d, d, d, nullptr, 1, 4, 4, kEps, false, DType::f64,
                                     nullptr, 0, nullptr),
               Error);
  EXPECT_THROW(kernels::ln_gemv_cuda(d, d, d, d, d, nullptr, 1, 0, 4, kEps, false, DType::f32,
                                     nullptr, 0, nullptr),
               Error);
  EXPECT_THROW(kernels::ln_gemv_cuda(d, d, d, d, d, nullptr, 1, 4, 4, kEps, false, DType::f32,
                                     nullptr, 0, nullptr, 3),
               Error)
      << "ld < N";
}

TEST_F(CudaLnGemvChecks, RejectsAMissingWorkspace) {
  float d[4] = {};
  ASSERT_GT(kernels::ln_gemv_workspace_bytes(1, 768, 50, DType::bf16, true), 0u);
  EXPECT_THROW(kernels::ln_gemv_cuda(d, d, d, d, d, nullptr, 1, 768, 50, kEps, true, DType::bf16,
                                     nullptr, 0, nullptr),
               Error);
  EXPECT_THROW(kernels::ln_gemv_cuda(d, d, d, d, d, nullptr, 1, 768, 50, kEps, true, DType::bf16, d,
                                     sizeof(d), nullptr),
               Error);
}

TEST_F(CudaLnGemvChecks, RefusesArgmaxOverASplitK) {
  float d[4] = {};
  std::uint64_t keys[1] = {};
  kernels::LnGemvEpilogue epi;
  epi.argmax_keys = keys;
  EXPECT_THROW(kernels::ln_gemv_cuda(d, d, d, d, d, nullptr, 1, 768, 50, kEps, true, DType::bf16, d,
                                     1 << 20, nullptr, 0, epi),
               Error);
}

TEST_F(CudaLnGemvChecks, RefusesPartsItCannotSplit) {
  float d[4] = {};
  kernels::LnGemvWeights parts;
  parts.parts = 3;
  parts.w[0] = parts.w[1] = parts.w[2] = d;
  EXPECT_THROW(kernels::ln_gemv_parts_cuda(d, d, d, d, parts, 1, 8, 10, kEps, false, DType::f32,
                                           nullptr, 0, nullptr),
               Error)
      << "10 columns in 3 parts";
  EXPECT_THROW(kernels::ln_gemv_parts_cuda(d, d, d, d, parts, 1, 8, 9, kEps, true, DType::f32,
                                           nullptr, 0, nullptr),
               Error)
      << "parts in the in_out layout";
  parts.parts = 4;
  EXPECT_THROW(kernels::ln_gemv_parts_cuda(d, d, d, d, parts, 1, 8, 12, kEps, false, DType::f32,
                                           nullptr, 0, nullptr),
               Error);
}

TEST_F(CudaLnGemvChecks, NoRowsLaunchNothing) {
  EXPECT_NO_THROW(kernels::ln_gemv_cuda(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 0,
                                        768, 2304, kEps, true, DType::bf16, nullptr, 0, nullptr));
}

}  // namespace
}  // namespace cugpt
