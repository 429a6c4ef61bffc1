// The memory-bound CUDA kernels (residual add, activations, embedding, decode attention) on a
// real GPU against their CPU f32 twins fed the same dtype-rounded inputs, beyond the rows of the
// kernel-case table (tests/test_op_cases.cpp): f32/bf16/f16, lengths that are and are not whole
// 16-byte packs, buffers one element off alignment (the scalar path), in-place use, grids that
// must loop, embedding sums bit for bit with token-type ids, long decode caches.
// Sums are exact (added in f32, rounded once, as the reference), so they are compared bit for
// bit. Outputs are poisoned with NaN and guarded on both sides, so an unwritten element or a
// stray write fails. The argument checks need a CUDA build but no GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "kernels/attention_decode.h"
#include "kernels/embedding.h"
#include "kernels/error.h"
#include "kernels/residual.h"
#include "kernels/runtime.h"
#include "nn/tensor.h"
#include "tests/gpu_test.h"

namespace cugpt {
namespace {

using testing::DeviceArray;
using testing::identical;

using kernels::Activation;

constexpr DType kDtypes[] = {DType::f32, DType::bf16, DType::f16};

std::string describe(DType t, const std::string& sizes, std::size_t offset) {
  std::ostringstream s;
  s << dtype_name(t) << " " << sizes << " offset=" << offset;
  return s.str();
}

class CudaKernel : public testing::CudaTest {
 protected:
  void SetUp() override {
    CudaTest::SetUp();
    if (IsSkipped()) return;
    arena_ = Arena::create(Device::cuda(0), 256ull << 20);
  }
  DeviceArray array(std::size_t n, DType dtype, std::size_t offset) {
    return DeviceArray(arena_, n, dtype, offset);
  }
  std::shared_ptr<Arena> arena_;
};

// ---- residual ---------------------------------------------------------------------------------

using CudaResidual = CudaKernel;

TEST_F(CudaResidual, ExactlyTheRoundedSum) {
  for (DType t : kDtypes)
    for (std::size_t n : {1, 7, 8, 37, 4096, 100003})
      for (std::size_t offset : {0, 1}) {
        SCOPED_TRACE(describe(t, "n=" + std::to_string(n), offset));
        const auto a = testing::round_to(t, testing::random_values(n, 1));
        const auto b = testing::round_to(t, testing::random_values(n, 2, 3.0f));
        DeviceArray da = array(n, t, offset), db = array(n, t, offset), out = array(n, t, offset);
        da.upload(a), db.upload(b);
        kernels::residual_forward_cuda(out.ptr(), da.ptr(), db.ptr(), n, t, nullptr);
        std::vector<float> want(n);
        kernels::residual_forward_cpu(want.data(), a.data(), b.data(), n);
        EXPECT_TRUE(identical(out.download(), testing::round_to(t, want)));
      }
}

// More packs than the grid has threads: the grid-stride loop must come round again.
TEST_F(CudaResidual, GridLoops) {
  const DType t = DType::bf16;
  const std::size_t n = (4096ull * 256 + 5) * 8 + 3;
  const auto a = testing::round_to(t, testing::random_values(n, 3));
  const auto b = testing::round_to(t, testing::random_values(n, 4));
  DeviceArray da = array(n, t, 0), db = array(n, t, 0), out = array(n, t, 0);
  da.upload(a), db.upload(b);
  kernels::residual_forward_cuda(out.ptr(), da.ptr(), db.ptr(), n, t, nullptr);
  std::vector<float> want(n);
  kernels::residual_forward_cpu(want.data(), a.data(), b.data(), n);
  EXPECT_TRUE(identical(out.download(), testing::round_to(t, want)));
}

TEST_F(CudaResidual, InPlace) {
  const std::size_t n = 1029;
  for (DType t : kDtypes)
    for (bool into_a : {true, false}) {
      SCOPED_TRACE(describe(t, into_a ? "out=a" : "out=b", 0));
      const auto a = testing::round_to(t, testing::random_values(n, 5));
      const auto b = testing::round_to(t, testing::random_values(n, 6));
      DeviceArray da = array(n, t, 0), db = array(n, t, 0);
      da.upload(a), db.upload(b);
      DeviceArray& out = into_a ? da : db;
      kernels::residual_forward_cuda(out.ptr(), da.ptr(), db.ptr(), n, t, nullptr);
      std::vector<float> want(n);
      kernels::residual_forward_cpu(want.data(), a.data(), b.data(), n);
      EXPECT_TRUE(identical(out.download(), testing::round_to(t, want)));
    }
}

// ---- activation -------------------------------------------------------------------------------

using CudaActivation = CudaKernel;

const char* activation_name(Activation act) {
  switch (act) {
    case Activation::relu:
      return "relu";
    case Activation::gelu_tanh:
      return "gelu_tanh";
    case Activation::gelu_erf:
      break;
  }
  return "gelu_erf";
}

constexpr Activation kActivations[] = {Activation::relu, Activation::gelu_tanh,
                                       Activation::gelu_erf};

// ReLU is exact; the GELUs (tanhf/erff against std::tanh/std::erf) within the output's rounding.
void expect_activation(const std::vector<float>& got, const std::vector<float>& x, DType t,
                       Activation act) {
  std::vector<float> want(x.size());
  kernels::activation_forward_cpu(want.data(), x.data(), x.size(), act);
  if (act == Activation::relu) {
    EXPECT_TRUE(identical(got, want));
  } else {
    EXPECT_TRUE(testing::close(got, want, testing::tolerance(t)));
  }
}

// Aligned buffers are rows of the kernel-case table; here one element off (the scalar path).
TEST_F(CudaActivation, UnalignedMatchesCpu) {
  const std::size_t offset = 1;
  for (Activation act : kActivations)
    for (DType t : kDtypes)
      for (std::size_t n : {1, 7, 37, 4099, 100003}) {
        SCOPED_TRACE(
            describe(t, std::string(activation_name(act)) + " n=" + std::to_string(n), offset));
        const auto x = testing::round_to(t, testing::random_values(n, 7, 4.0f));
        DeviceArray dx = array(n, t, offset), out = array(n, t, offset);
        dx.upload(x);
        kernels::activation_forward_cuda(out.ptr(), dx.ptr(), n, act, t, nullptr);
        expect_activation(out.download(), x, t, act);
      }
}

TEST_F(CudaActivation, InPlace) {
  const std::size_t n = 3075;
  for (Activation act : kActivations)
    for (DType t : kDtypes) {
      SCOPED_TRACE(describe(t, activation_name(act), 0));
      const auto x = testing::round_to(t, testing::random_values(n, 8, 4.0f));
      DeviceArray dx = array(n, t, 0);
      dx.upload(x);
      kernels::activation_forward_cuda(dx.ptr(), dx.ptr(), n, act, t, nullptr);
      expect_activation(dx.download(), x, t, act);
    }
}

// ---- embedding --------------------------------------------------------------------------------

using CudaEmbedding = CudaKernel;

struct EmbeddingCase {
  int B, T, C;
  bool types_table = false;  // wtt present
  bool type_ids = false;     // token_types given (else type 0 everywhere)
  std::size_t offset = 0;    // of the tables and the output
};

class Ids {
 public:
  Ids(const std::shared_ptr<Arena>& arena, const std::vector<std::int32_t>& ids)
      : t_(Tensor::empty(arena, {static_cast<std::int64_t>(ids.size())}, DType::i32,
                         Category::activation)) {
    t_.copy_from_host(ids.data(), ids.size() * sizeof(std::int32_t));
  }
  const std::int32_t* ptr() const { return static_cast<const std::int32_t*>(t_.data()); }

 private:
  Tensor t_;
};

TEST_F(CudaEmbedding, ExactlyTheRoundedSum) {
  constexpr int V = 50, P = 160, kTypes = 2;
  std::vector<EmbeddingCase> cases;
  for (int C : {1, 37, 768, 772})
    for (auto [B, T] : {std::pair{1, 1}, std::pair{2, 7}, std::pair{3, 130}}) {
      cases.push_back({B, T, C});
      cases.push_back({B, T, C, true});
      cases.push_back({B, T, C, true, true});
    }
  cases.push_back({2, 7, 768, false, false, 1});
  cases.push_back({2, 7, 768, true, true, 1});
  for (DType t : kDtypes)
    for (const EmbeddingCase& c : cases) {
      std::ostringstream sizes;
      sizes << "B=" << c.B << " T=" << c.T << " C=" << c.C << " wtt=" << c.types_table
            << " type_ids=" << c.type_ids;
      SCOPED_TRACE(describe(t, sizes.str(), c.offset));
      const std::size_t rows = static_cast<std::size_t>(c.B) * c.T;
      std::mt19937 rng(9);
      std::vector<std::int32_t> tokens(rows), positions(rows), types(rows);
      for (std::size_t i = 0; i < rows; ++i) {
        tokens[i] = static_cast<std::int32_t>(rng() % V);
        positions[i] = static_cast<std::int32_t>((i % c.T + i / c.T) % P);  // offset per sequence
        types[i] = static_cast<std::int32_t>(rng() % kTypes);
      }
      const auto wte = testing::round_to(t, testing::random_values(std::size_t{V} * c.C, 10));
      const auto wpe = testing::round_to(t, testing::random_values(std::size_t{P} * c.C, 11));
      const auto wtt = testing::round_to(t, testing::random_values(std::size_t{kTypes} * c.C, 12));
      DeviceArray dwte = array(wte.size(), t, c.offset), dwpe = array(wpe.size(), t, c.offset),
                  dwtt = array(wtt.size(), t, c.offset), out = array(rows * c.C, t, c.offset);
      dwte.upload(wte), dwpe.upload(wpe), dwtt.upload(wtt);
      const Ids dtok(arena_, tokens), dpos(arena_, positions), dtypes(arena_, types);

      kernels::EmbeddingArgs a;
      a.B = c.B, a.T = c.T, a.C = c.C;
      a.tokens = dtok.ptr(), a.positions = dpos.ptr();
      a.token_types = c.type_ids ? dtypes.ptr() : nullptr;
      kernels::embedding_forward_cuda(a, out.ptr(), dwte.ptr(), dwpe.ptr(),
                                      c.types_table ? dwtt.ptr() : nullptr, t, nullptr);

      kernels::EmbeddingArgs h = a;
      h.tokens = tokens.data(), h.positions = positions.data();
      h.token_types = c.type_ids ? types.data() : nullptr;
      std::vector<float> want(rows * c.C);
      kernels::embedding_forward_cpu(h, want.data(), wte.data(), wpe.data(),
                                     c.types_table ? wtt.data() : nullptr);
      EXPECT_TRUE(identical(out.download(), testing::round_to(t, want)));
    }
}

// ---- decode attention (kept from this file's first version; its kernel is not in this group) ---

using CudaDecodeAttention = CudaKernel;

// Beyond the table's rows (head dims 8..128, caches up to 80): a long cache (many keys per
// thread), a head dim above 128, and the generic kernel: a head dim that is not whole 16-byte
// pieces (12 in 16-bit dtypes, 6), or a cache that is not 16-byte aligned (offset 1).
TEST_F(CudaDecodeAttention, MatchesCpu) {
  struct Shape {
    int D, past, t_max;
    std::size_t offset;
  };
  for (const Shape& sh : {Shape{128, 2000, 2003, 0}, Shape{200, 130, 140, 0}, Shape{12, 40, 50, 0},
                          Shape{6, 300, 303, 0}, Shape{64, 300, 310, 1}})
    for (DType t : kDtypes) {
      const int B = 2, Tq = 3, H = 3, D = sh.D, past = sh.past, t_max = sh.t_max, C = H * D;
      SCOPED_TRACE(std::string(dtype_name(t)) + " D=" + std::to_string(D) +
                   " past=" + std::to_string(past) + " offset=" + std::to_string(sh.offset));
      const auto q = testing::round_to(t, testing::random_values(B * Tq * 3 * C, 11));  // qkv
      const auto k = testing::round_to(t, testing::random_values(B * t_max * C, 12));
      const auto v = testing::round_to(t, testing::random_values(B * t_max * C, 13));
      DeviceArray dq = array(q.size(), t, 0), dk = array(k.size(), t, sh.offset),
                  dv = array(v.size(), t, sh.offset), out = array(B * Tq * C, t, 0);
      dq.upload(q), dk.upload(k), dv.upload(v);
      const float scale = 1.0f / std::sqrt(static_cast<float>(D));
      kernels::DecodeCudaArgs a;
      a.B = B, a.Tq = Tq, a.past = past, a.H = H, a.D = D, a.q = dq.ptr(), a.q_stride = 3 * C;
      a.k_cache = dk.ptr(), a.v_cache = dv.ptr(), a.t_max = t_max, a.out = out.ptr();
      a.scale = scale, a.dtype = t;
      kernels::attention_decode_cuda(a, nullptr);
      kernels::DecodeArgs<float> h;
      std::vector<float> want(B * Tq * C);
      h.B = B, h.Tq = Tq, h.past = past, h.H = H, h.D = D, h.q = q.data(), h.q_stride = 3 * C;
      h.k_cache = k.data(), h.v_cache = v.data(), h.t_max = t_max, h.out = want.data();
      h.scale = scale;
      kernels::attention_decode_cpu(h);
      EXPECT_TRUE(testing::close(out.download(), want, 2 * testing::tolerance(t)));
    }
}

// ---- argument checks --------------------------------------------------------------------------

// The argument checks come before any CUDA call: they run in a CUDA build without a GPU.
class CudaElementwiseChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_compiled()) GTEST_SKIP() << "cugpt was built without CUDA (CUGPT_CUDA=OFF)";
  }
};

TEST_F(CudaElementwiseChecks, RejectsF64AndI32) {
  double dummy[8] = {};
  const std::int32_t ids[2] = {};
  kernels::EmbeddingArgs a;
  a.B = 1, a.T = 2, a.C = 4, a.tokens = ids, a.positions = ids;
  for (DType t : {DType::f64, DType::i32}) {
    SCOPED_TRACE(dtype_name(t));
    EXPECT_THROW(kernels::residual_forward_cuda(dummy, dummy, dummy, 8, t, nullptr), Error);
    EXPECT_THROW(
        kernels::activation_forward_cuda(dummy, dummy, 8, Activation::gelu_tanh, t, nullptr),
        Error);
    EXPECT_THROW(kernels::embedding_forward_cuda(a, dummy, dummy, dummy, nullptr, t, nullptr),
                 Error);
  }
}

TEST_F(CudaElementwiseChecks, RejectsBadSizes) {
  float dummy[8] = {};
  kernels::EmbeddingArgs a;
  a.B = 1, a.T = 1, a.C = 0;
  EXPECT_THROW(
      kernels::embedding_forward_cuda(a, dummy, dummy, dummy, nullptr, DType::f16, nullptr), Error);
  a.B = -1, a.C = 4;
  EXPECT_THROW(
      kernels::embedding_forward_cuda(a, dummy, dummy, dummy, nullptr, DType::f16, nullptr), Error);
}

TEST_F(CudaElementwiseChecks, NothingToDoLaunchesNothing) {
  for (DType t : kDtypes) {
    SCOPED_TRACE(dtype_name(t));
    EXPECT_NO_THROW(kernels::residual_forward_cuda(nullptr, nullptr, nullptr, 0, t, nullptr));
    EXPECT_NO_THROW(
        kernels::activation_forward_cuda(nullptr, nullptr, 0, Activation::relu, t, nullptr));
    kernels::EmbeddingArgs a;
    a.B = 0, a.T = 7, a.C = 768;
    EXPECT_NO_THROW(
        kernels::embedding_forward_cuda(a, nullptr, nullptr, nullptr, nullptr, t, nullptr));
    a.B = 3, a.T = 0;
    EXPECT_NO_THROW(
        kernels::embedding_forward_cuda(a, nullptr, nullptr, nullptr, nullptr, t, nullptr));
  }
}

}  // namespace
}  // namespace cugpt
