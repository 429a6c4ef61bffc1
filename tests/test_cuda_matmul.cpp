// matmul on a real GPU against its CPU twin beyond the rows of the kernel-case table
// (tests/test_op_cases.cpp, which has every layout, bias and epilogue at odd sizes): GPT-2's
// vocabulary projection and MLP at scale, offset views, cached plans, no workspace, and the
// cublasGemmEx fallback, in f32/bf16/f16. Every test skips, with the reason, where there is no GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "kernels/error.h"
#include "kernels/matmul.h"
#include "kernels/runtime.h"
#include "nn/tensor.h"
#include "tests/gpu_test.h"

namespace cugpt {
namespace {

using kernels::Epilogue;

struct Dims {
  int N, IC, OC;
};

const char* epilogue_name(Epilogue e) {
  switch (e) {
    case Epilogue::relu:
      return "relu";
    case Epilogue::gelu_tanh:
      return "gelu_tanh";
    case Epilogue::none:
      break;
  }
  return "none";
}

// The bound on max |got - want| / max |want| against the f32 CPU reference computed on the same
// dtype-rounded inputs, as a sum of two errors:
// - the output's rounding to dtype: once for f32 and on the fused cuBLASLt epilogue, twice for
//   16-bit outputs on the cublasGemmEx fallback (the GEMM's result, then bias and activation),
//   hence tolerance(dtype) times 2 for 16-bit types;
// - the f32 accumulation of IC products, summed in a different order than Eigen's (tensor cores
//   also align addends with truncation): its rounding error grows like sqrt(IC) ulps of the
//   partial sums, hence tolerance(f32) * sqrt(IC / 256) past 256 terms. It matters for f32
//   only; for 16-bit outputs the rounding term dominates.
// cuBLASLt's GELU epilogue need not use a correctly rounded tanh (the hardware tanh errs by
// ~5e-4), so f32 with GELU is held to 1e-3.
double matmul_tolerance(DType t, int IC, Epilogue e) {
  const double rounding = cugpt::testing::tolerance(t) * (t == DType::f32 ? 1 : 2);
  const double accumulation =
      cugpt::testing::tolerance(DType::f32) * std::sqrt(std::max(1.0, IC / 256.0));
  double tol = rounding + accumulation;
  if (t == DType::f32 && e == Epilogue::gelu_tanh) tol = std::max(tol, 1e-3);
  return tol;
}

std::vector<float> reference(const std::vector<float>& x, const std::vector<float>& w,
                             const float* bias, Dims d, bool w_in_out, Epilogue e) {
  std::vector<float> out(static_cast<std::size_t>(d.N) * d.OC);
  kernels::matmul_forward_cpu(out.data(), x.data(), w.data(), bias, d.N, d.IC, d.OC, w_in_out);
  if (e == Epilogue::relu)
    kernels::activation_forward_cpu(out.data(), out.data(), out.size(), kernels::Activation::relu);
  if (e == Epilogue::gelu_tanh)
    kernels::activation_forward_cpu(out.data(), out.data(), out.size(),
                                    kernels::Activation::gelu_tanh);
  return out;
}

// Routes matmul through cublasGemmEx and the epilogue kernel for one scope.
class ForcedCublas {
 public:
  ForcedCublas() { setenv("CUGPT_MATMUL_CUBLAS", "1", 1); }
  ~ForcedCublas() { unsetenv("CUGPT_MATMUL_CUBLAS"); }
  ForcedCublas(const ForcedCublas&) = delete;
  ForcedCublas& operator=(const ForcedCublas&) = delete;
};

class CudaMatmul : public cugpt::testing::CudaTest {
 protected:
  void SetUp() override {
    CudaTest::SetUp();
    if (IsSkipped()) return;
    arena_ = Arena::create(Device::cuda(0), 512ull << 20);
    workspace_ = Tensor::empty(arena_, {kernels::kMatmulWorkspaceBytes / 4}, DType::f32,
                               Category::workspace);
  }

  kernels::MatmulWorkspace workspace() { return {workspace_.data(), workspace_.nbytes()}; }

  Tensor upload(const std::vector<float>& v, const Shape& shape, DType t, Category c) {
    Tensor tensor = Tensor::empty(arena_, shape, t, c);
    tensor.copy_from_floats(v);
    return tensor;
  }

  // One GPU product against the CPU twin. Weights scale as 1/sqrt(IC) so that outputs are O(1)
  // whatever IC, where GELU is far from linear.
  void check(Dims d, bool w_in_out, bool with_bias, Epilogue e, DType t, unsigned seed) {
    SCOPED_TRACE(::testing::Message()
                 << "N " << d.N << " IC " << d.IC << " OC " << d.OC
                 << (w_in_out ? " [IC, OC]" : " [OC, IC]") << (with_bias ? " bias" : " no bias")
                 << " " << epilogue_name(e) << " " << dtype_name(t));
    using cugpt::testing::random_values;
    using cugpt::testing::round_to;
    const std::size_t n_x = static_cast<std::size_t>(d.N) * d.IC;
    const std::size_t n_w = static_cast<std::size_t>(d.IC) * d.OC;
    const auto xv = round_to(t, random_values(n_x, seed));
    const auto wv = round_to(t, random_values(n_w, seed + 1, 1.0f / std::sqrt(float(d.IC))));
    const auto bv = round_to(t, random_values(d.OC, seed + 2, 0.5f));
    Tensor x = upload(xv, {d.N, d.IC}, t, Category::activation);
    Tensor w = upload(wv, w_in_out ? Shape{d.IC, d.OC} : Shape{d.OC, d.IC}, t, Category::parameter);
    Tensor b = upload(bv, {d.OC}, t, Category::parameter);
    Tensor out = Tensor::empty(arena_, {d.N, d.OC}, t, Category::activation);
    out.fill(NAN);
    kernels::matmul_forward_cuda(out.data(), x.data(), w.data(), with_bias ? b.data() : nullptr,
                                 d.N, d.IC, d.OC, w_in_out, e, t, workspace(), nullptr);
    cuda_synchronize();
    const auto want = reference(xv, wv, with_bias ? bv.data() : nullptr, d, w_in_out, e);
    EXPECT_TRUE(cugpt::testing::close(out.to_floats(), want, matmul_tolerance(t, d.IC, e)));
  }

  // Every layout, bias and epilogue in every dtype for each shape.
  void check_all(const std::vector<Dims>& shapes) {
    unsigned seed = 1;
    for (Dims d : shapes)
      for (DType t : {DType::f32, DType::bf16, DType::f16})
        for (bool w_in_out : {false, true})
          for (bool with_bias : {false, true})
            for (Epilogue e : {Epilogue::none, Epilogue::relu, Epilogue::gelu_tanh})
              check(d, w_in_out, with_bias, e, t, seed += 3);
  }

  std::shared_ptr<Arena> arena_;
  Tensor workspace_;
};

// GPT-2's lm_head: the tied [V, C] embedding as a Linear weight, V = 50257 odd, at decode and
// at a short prompt; the Conv1D layout and a bias at that width too.
TEST_F(CudaMatmul, VocabProjection) {
  for (DType t : {DType::f32, DType::bf16, DType::f16}) {
    check({1, 768, 50257}, false, false, Epilogue::none, t, 11);
    check({7, 768, 50257}, false, false, Epilogue::none, t, 12);
    check({7, 768, 50257}, true, true, Epilogue::none, t, 13);
  }
}

// GPT-2 small's MLP at a full 2048-token batch: c_fc (768 -> 3072, bias, fused GELU) and
// c_proj (3072 -> 768, the longest accumulation here).
TEST_F(CudaMatmul, GptMlpAtScale) {
  for (DType t : {DType::f32, DType::bf16, DType::f16}) {
    check({2048, 768, 3072}, true, true, Epilogue::gelu_tanh, t, 21);
    check({2048, 768, 3072}, false, true, Epilogue::relu, t, 22);
    check({2048, 3072, 768}, true, true, Epilogue::none, t, 23);
  }
}

// x and out as views one row into their blocks: with odd widths the pointers are only 4-byte
// (f32) or 2-byte (16-bit) aligned, which the algorithm choice must respect.
TEST_F(CudaMatmul, OffsetViews) {
  using cugpt::testing::random_values;
  using cugpt::testing::round_to;
  const Dims d{5, 37, 29};
  for (DType t : {DType::f32, DType::bf16, DType::f16}) {
    for (Epilogue e : {Epilogue::none, Epilogue::gelu_tanh}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(t) << " " << epilogue_name(e));
      const auto xv = round_to(t, random_values((d.N + 1) * d.IC, 31));
      const auto wv = round_to(t, random_values(d.IC * d.OC, 32, 0.2f));
      const auto bv = round_to(t, random_values(d.OC, 33, 0.5f));
      Tensor x = upload(xv, {d.N + 1, d.IC}, t, Category::activation);
      Tensor w = upload(wv, {d.OC, d.IC}, t, Category::parameter);
      Tensor b = upload(bv, {d.OC}, t, Category::parameter);
      Tensor out = Tensor::empty(arena_, {d.N + 1, d.OC}, t, Category::activation);
      out.fill(NAN);
      const std::size_t es = dtype_size(t);
      kernels::matmul_forward_cuda(static_cast<char*>(out.data()) + d.OC * es,
                                   static_cast<const char*>(x.data()) + d.IC * es, w.data(),
                                   b.data(), d.N, d.IC, d.OC, false, e, t, workspace(), nullptr);
      cuda_synchronize();
      const std::vector<float> x_rows(xv.begin() + d.IC, xv.end());
      const auto want = reference(x_rows, wv, bv.data(), d, false, e);
      const auto got = out.to_floats();
      EXPECT_TRUE(std::isnan(got[0])) << "the row before the view was written";
      const std::vector<float> got_rows(got.begin() + d.OC, got.end());
      EXPECT_TRUE(cugpt::testing::close(got_rows, want, matmul_tolerance(t, d.IC, e)));
    }
  }
}

// Calls of one shape share a cached plan, whose descriptor holds a bias pointer: each call
// must still add its own bias. Both biases stay alive, so their addresses differ.
TEST_F(CudaMatmul, CachedPlanTakesEachCallsBias) {
  using cugpt::testing::random_values;
  using cugpt::testing::round_to;
  const Dims d{9, 64, 96};
  for (DType t : {DType::f32, DType::bf16}) {
    SCOPED_TRACE(dtype_name(t));
    const auto xv = round_to(t, random_values(d.N * d.IC, 41));
    const auto wv = round_to(t, random_values(d.IC * d.OC, 42, 0.125f));
    const std::vector<std::vector<float>> bvs = {round_to(t, random_values(d.OC, 43)),
                                                 round_to(t, random_values(d.OC, 44))};
    Tensor x = upload(xv, {d.N, d.IC}, t, Category::activation);
    Tensor w = upload(wv, {d.IC, d.OC}, t, Category::parameter);
    std::vector<Tensor> bs, outs;
    for (const auto& bv : bvs) {
      bs.push_back(upload(bv, {d.OC}, t, Category::parameter));
      outs.push_back(Tensor::empty(arena_, {d.N, d.OC}, t, Category::activation));
    }
    for (int round = 0; round < 2; ++round) {
      for (std::size_t i = 0; i < bs.size(); ++i) {
        outs[i].fill(NAN);
        kernels::matmul_forward_cuda(outs[i].data(), x.data(), w.data(), bs[i].data(), d.N, d.IC,
                                     d.OC, true, Epilogue::gelu_tanh, t, workspace(), nullptr);
      }
      cuda_synchronize();
      for (std::size_t i = 0; i < bs.size(); ++i) {
        const auto want = reference(xv, wv, bvs[i].data(), d, true, Epilogue::gelu_tanh);
        EXPECT_TRUE(cugpt::testing::close(outs[i].to_floats(), want,
                                          matmul_tolerance(t, d.IC, Epilogue::gelu_tanh)))
            << "round " << round << ", bias " << i;
      }
    }
  }
}

// The cublasGemmEx path and its epilogue kernel, which cuBLASLt may never need on this GPU.
TEST_F(CudaMatmul, CublasFallbackMatchesCpu) {
  ForcedCublas forced;
  check_all({{7, 37, 29}, {1, 768, 768}});
  check({7, 768, 50257}, true, true, Epilogue::gelu_tanh, DType::bf16, 71);
}

TEST_F(CudaMatmul, WithoutWorkspace) {
  const Dims d{7, 768, 768};
  for (DType t : {DType::f32, DType::bf16}) {
    using cugpt::testing::random_values;
    const auto xv = cugpt::testing::round_to(t, random_values(d.N * d.IC, 81));
    const auto wv = cugpt::testing::round_to(t, random_values(d.IC * d.OC, 82, 0.05f));
    Tensor x = upload(xv, {d.N, d.IC}, t, Category::activation);
    Tensor w = upload(wv, {d.OC, d.IC}, t, Category::parameter);
    Tensor out = Tensor::empty(arena_, {d.N, d.OC}, t, Category::activation);
    out.fill(NAN);
    kernels::matmul_forward_cuda(out.data(), x.data(), w.data(), nullptr, d.N, d.IC, d.OC, false,
                                 Epilogue::relu, t, {}, nullptr);
    cuda_synchronize();
    EXPECT_TRUE(cugpt::testing::close(out.to_floats(),
                                      reference(xv, wv, nullptr, d, false, Epilogue::relu),
                                      matmul_tolerance(t, d.IC, Epilogue::relu)))
        << dtype_name(t);
  }
}

TEST_F(CudaMatmul, ZeroRowsDoNothing) {
  EXPECT_NO_THROW(kernels::matmul_forward_cuda(nullptr, nullptr, nullptr, nullptr, 0, 768, 768,
                                               false, Epilogue::gelu_tanh, DType::bf16, workspace(),
                                               nullptr));
  cuda_synchronize();
}

TEST_F(CudaMatmul, RejectsOtherDtypes) {
  // f64 tensors cannot exist on cuda at all; the kernel must refuse the dtype by itself too.
  Tensor x = Tensor::empty(arena_, {4, 8}, DType::f32, Category::activation);
  Tensor w = Tensor::empty(arena_, {8, 8}, DType::f32, Category::parameter);
  Tensor out = Tensor::empty(arena_, {8, 8}, DType::f32, Category::activation);
  for (DType t : {DType::f64, DType::i32}) {
    EXPECT_THROW(kernels::matmul_forward_cuda(out.data(), x.data(), w.data(), nullptr, 4, 8, 8,
                                              false, Epilogue::none, t, workspace(), nullptr),
                 Error)
        << dtype_name(t);
  }
}

TEST_F(CudaMatmul, RejectsBadSizes) {
  EXPECT_THROW(
      kernels::matmul_forward_cuda(workspace_.data(), workspace_.data(), workspace_.data(), nullptr,
                                   4, 0, 8, false, Epilogue::none, DType::f32, {}, nullptr),
      Error);
  EXPECT_THROW(
      kernels::matmul_forward_cuda(workspace_.data(), workspace_.data(), workspace_.data(), nullptr,
                                   -1, 8, 8, false, Epilogue::none, DType::f32, {}, nullptr),
      Error);
}

}  // namespace
}  // namespace cugpt
