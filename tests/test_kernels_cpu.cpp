// What the kernel-case table (tests/test_op_cases.cpp, which checks every cpu op against plain
// double loops) cannot reach through nn/ops: the CPU kernels' in-place use, LayerNorm without
// statistics bit for bit equal to it with them, token-type ids, activations at known values,
// and the rejection of negative sizes. In float and double, outputs poisoned with NaN.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/embedding.h"
#include "kernels/error.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/residual.h"

namespace cugpt::kernels {
namespace {

// Error allowed relative to the largest reference magnitude: float accumulates in float, double
// should agree with the double loops to a few ulps of the sums involved.
template <typename Real>
constexpr double kTol = std::is_same_v<Real, float> ? 1e-5 : 1e-12;

template <typename Real>
std::vector<Real> random(std::size_t n, unsigned seed, double lo = -1, double hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<Real> v(n);
  for (auto& x : v) x = static_cast<Real>(u(rng));
  return v;
}

template <typename Real>
std::vector<Real> poisoned(std::size_t n) {
  return std::vector<Real>(n, std::numeric_limits<Real>::quiet_NaN());
}

template <typename Real>
::testing::AssertionResult close(const std::vector<Real>& got, const std::vector<double>& want,
                                 double tol) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size mismatch";
  double scale = 1e-30;
  for (double w : want) scale = std::max(scale, std::fabs(w));
  for (std::size_t i = 0; i < got.size(); ++i) {
    // Written as !(<=) so that a NaN left in a poisoned output fails too.
    if (!(std::fabs(got[i] - want[i]) <= tol * scale))
      return ::testing::AssertionFailure() << "at " << i << ": got " << got[i] << ", want "
                                           << want[i] << " (scale " << scale << ")";
  }
  return ::testing::AssertionSuccess();
}

struct RealNames {
  template <typename Real>
  static std::string GetName(int) {
    return std::is_same_v<Real, float> ? "float" : "double";
  }
};
using Reals = ::testing::Types<float, double>;

template <typename Real>
class CpuKernel : public ::testing::Test {};
TYPED_TEST_SUITE(CpuKernel, Reals, RealNames);

// Statistics are optional (inference does not keep them): the output is the same bits.
TYPED_TEST(CpuKernel, LayerNormWithoutStatisticsIsBitIdentical) {
  using Real = TypeParam;
  const int N = 7, C = 37;
  const auto x = random<Real>(N * C, 4, -3, 5);  // non-zero mean
  const auto w = random<Real>(C, 5), b = random<Real>(C, 6);
  const Real eps = static_cast<Real>(1e-5);
  auto out = poisoned<Real>(N * C), mean = poisoned<Real>(N), rstd = poisoned<Real>(N);
  layernorm_forward_cpu(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C,
                        eps);
  auto out_only = poisoned<Real>(N * C);
  layernorm_forward_cpu(out_only.data(), nullptr, nullptr, x.data(), w.data(), b.data(), N, C, eps);
  EXPECT_EQ(out_only, out);
}

TYPED_TEST(CpuKernel, ActivationsInPlace) {
  using Real = TypeParam;
  const std::size_t n = 1001;
  const auto x = random<Real>(n, 7, -6, 6);
  for (Activation act : {Activation::relu, Activation::gelu_tanh, Activation::gelu_erf}) {
    auto out = poisoned<Real>(n);
    activation_forward_cpu(out.data(), x.data(), n, act);
    auto in_place = x;
    activation_forward_cpu(in_place.data(), in_place.data(), n, act);
    EXPECT_EQ(in_place, out) << "in place, activation " << static_cast<int>(act);
  }
}

TYPED_TEST(CpuKernel, ActivationKnownValues) {
  using Real = TypeParam;
  const double tol = std::is_same_v<Real, float> ? 1e-7 : 1e-15;
  const std::vector<Real> x = {-1, 0, 1, 2.5};
  auto out = poisoned<Real>(4);
  activation_forward_cpu(out.data(), x.data(), 4, Activation::relu);
  EXPECT_EQ(out, (std::vector<Real>{0, 0, 1, 2.5}));
  activation_forward_cpu(out.data(), x.data(), 4, Activation::gelu_erf);
  EXPECT_NEAR(out[0], -0.15865525393145707, tol);
  EXPECT_EQ(out[1], Real(0));
  EXPECT_NEAR(out[2], 0.8413447460685429, tol);
  activation_forward_cpu(out.data(), x.data(), 4, Activation::gelu_tanh);
  EXPECT_NEAR(out[2], 0.8411919906082768, tol);
  EXPECT_NEAR(out[3], 2.484915733910001, 4 * tol);
}

TYPED_TEST(CpuKernel, ResidualInPlace) {
  using Real = TypeParam;
  const std::size_t n = 7 * 37;
  const auto a = random<Real>(n, 9), b = random<Real>(n, 10);
  auto out = poisoned<Real>(n);
  residual_forward_cpu(out.data(), a.data(), b.data(), n);
  auto into_a = a, into_b = b;
  residual_forward_cpu(into_a.data(), into_a.data(), b.data(), n);
  residual_forward_cpu(into_b.data(), a.data(), into_b.data(), n);
  EXPECT_EQ(into_a, out);
  EXPECT_EQ(into_b, out);
}

TYPED_TEST(CpuKernel, EmbeddingWithTokenTypeIds) {
  using Real = TypeParam;
  const int B = 2, T = 13, C = 37, V = 11, P = 17, types = 3;
  const auto wte = random<Real>(V * C, 11), wpe = random<Real>(P * C, 12);
  const auto wtt = random<Real>(types * C, 13);
  std::mt19937 rng(14);
  std::vector<std::int32_t> tok(B * T), pos(B * T), type(B * T);
  for (int i = 0; i < B * T; ++i) {
    tok[i] = static_cast<std::int32_t>(rng() % V);
    pos[i] = 2 + i % T;  // an offset, as RoBERTa's padding_idx + 1 start gives
    type[i] = static_cast<std::int32_t>(rng() % types);
  }
  struct Case {
    const char* name;
    const Real* wtt;
    const std::int32_t* types;
  };
  // nn/ops always uses token type 0 (the table's case); the kernel also takes per-token ids.
  for (const Case& k : {Case{"types table and ids", wtt.data(), type.data()}}) {
    std::vector<double> want(B * T * C);
    for (int i = 0; i < B * T; ++i) {
      const int ty = k.types ? k.types[i] : 0;
      for (int c = 0; c < C; ++c)
        want[i * C + c] = static_cast<double>(wte[tok[i] * C + c]) + wpe[pos[i] * C + c] +
                          (k.wtt ? static_cast<double>(k.wtt[ty * C + c]) : 0.0);
    }
    const EmbeddingArgs a{B, T, C, tok.data(), pos.data(), k.types};
    auto out = poisoned<Real>(B * T * C);
    embedding_forward_cpu(a, out.data(), wte.data(), wpe.data(), k.wtt);
    EXPECT_TRUE(close(out, want, kTol<Real>)) << k.name;
  }
}

template <typename Real>
AttentionArgs<Real> attention_args(int B, int T, int H, int D, const Real* q, const Real* k,
                                   const Real* v, int stride, Real* out) {
  AttentionArgs<Real> a;
  a.B = B, a.T = T, a.H = H, a.D = D, a.q = q, a.k = k, a.v = v, a.row_stride = stride;
  a.out = out, a.scale = static_cast<Real>(1 / std::sqrt(static_cast<double>(D)));
  return a;
}

// Each activation maps to its own GEMM epilogue or to none (computed after the product), and a
// value without a case is an error: the cuda backend once sent every activation but relu to the
// gelu_tanh epilogue, so a new one would have computed GELU there in silence (issue 30).
TEST(CpuKernel, EachActivationHasItsOwnGemmEpilogueOrNone) {
  EXPECT_EQ(Epilogue::relu, gemm_epilogue(Activation::relu));
  EXPECT_EQ(Epilogue::gelu_tanh, gemm_epilogue(Activation::gelu_tanh));
  EXPECT_EQ(Epilogue::none, gemm_epilogue(Activation::gelu_erf));
  EXPECT_THROW(gemm_epilogue(static_cast<Activation>(99)), Error);
}

TEST(CpuKernel, NegativeSizesAreRejected) {
  std::vector<float> buf(64, 1.0f);
  float* p = buf.data();
  EXPECT_THROW(matmul_forward_cpu(p, p, p, nullptr, -1, 4, 4, false), Error);
  EXPECT_THROW(layernorm_forward_cpu(p, nullptr, nullptr, p, p, p, 2, -4, 1e-5f), Error);
  const std::vector<std::int32_t> ids(4, 0);
  EXPECT_THROW(
      embedding_forward_cpu(EmbeddingArgs{1, 4, -1, ids.data(), ids.data()}, p, p, p, nullptr),
      Error);
  auto a = attention_args(1, 2, 2, 4, p, p, p, 4, p);  // row_stride 4 < H * D
  EXPECT_THROW(attention_forward_cpu(a), Error);
  a.row_stride = 8, a.T = -1;
  EXPECT_THROW(attention_forward_cpu(a), Error);
}

}  // namespace
}  // namespace cugpt::kernels
