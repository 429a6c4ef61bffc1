// What the kernel-case table (tests/test_op_cases.cpp) does not check about the CPU reference
// kernels: activations at known values, the residual add in place, the fused QKV layout giving
// exactly what separate buffers give, and the size checks. The table checks every op's values
// against plain-loop oracles.
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


TYPED_TEST(CpuKernel, ResidualAddsInAndOutOfPlace) {
  using Real = TypeParam;
  const std::size_t n = 7 * 37;
  const auto a = random<Real>(n, 9), b = random<Real>(n, 10);
  std::vector<double> want(n);
  for (std::size_t i = 0; i < n; ++i) want[i] = static_cast<double>(a[i]) + b[i];
  auto out = poisoned<Real>(n);
  residual_forward_cpu(out.data(), a.data(), b.data(), n);
  EXPECT_TRUE(close(out, want, kTol<Real>));
  auto into_a = a, into_b = b;
  residual_forward_cpu(into_a.data(), into_a.data(), b.data(), n);
  residual_forward_cpu(into_b.data(), a.data(), into_b.data(), n);
  EXPECT_EQ(into_a, out);
  EXPECT_EQ(into_b, out);
}

// Reference attention in double: explicit scores, probabilities and weighted sums.
struct Ref {
  std::vector<double> out, probs;
};
template <typename Real>
Ref reference(const Real* q, const Real* k, const Real* v, int B, int T, int H, int D, int stride,
              bool causal, const std::int32_t* mask, double scale) {
  Ref r{std::vector<double>(B * T * H * D), std::vector<double>(B * H * T * T)};
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < T; ++i) {
        std::vector<double> s(T, 0);
        std::vector<bool> seen(T, false);
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < T; ++j) {
          if ((causal && j > i) || (mask && mask[b * T + j] == 0)) continue;
          seen[j] = true;
          for (int d = 0; d < D; ++d)
            s[j] += static_cast<double>(q[(b * T + i) * stride + h * D + d]) *
                    k[(b * T + j) * stride + h * D + d];
          s[j] *= scale;
          mx = std::max(mx, s[j]);
        }
        for (int j = 0; j < T; ++j) sum += s[j] = seen[j] ? std::exp(s[j] - mx) : 0;
        for (int j = 0; j < T; ++j) {
          const double p = sum > 0 ? s[j] / sum : 0;
          r.probs[((b * H + h) * T + i) * T + j] = p;
          for (int d = 0; d < D; ++d)
            r.out[(b * T + i) * H * D + h * D + d] += p * v[(b * T + j) * stride + h * D + d];
        }
      }
  return r;
}

template <typename Real>
AttentionArgs<Real> attention_args(int B, int T, int H, int D, const Real* q, const Real* k,
                                   const Real* v, int stride, Real* out) {
  AttentionArgs<Real> a;
  a.B = B, a.T = T, a.H = H, a.D = D, a.q = q, a.k = k, a.v = v, a.row_stride = stride;
  a.out = out, a.scale = static_cast<Real>(1 / std::sqrt(static_cast<double>(D)));
  return a;
}

TYPED_TEST(CpuKernel, AttentionFusedQkvLayoutEqualsSeparateBuffers) {
  using Real = TypeParam;
  const int B = 2, T = 13, H = 3, D = 32, C = H * D;
  const auto qkv = random<Real>(B * T * 3 * C, 18);
  std::vector<Real> q(B * T * C), k(B * T * C), v(B * T * C);
  for (int r = 0; r < B * T; ++r)
    for (int c = 0; c < C; ++c) {
      q[r * C + c] = qkv[r * 3 * C + c];
      k[r * C + c] = qkv[r * 3 * C + C + c];
      v[r * C + c] = qkv[r * 3 * C + 2 * C + c];
    }
  for (bool causal : {true, false}) {
    auto fused = poisoned<Real>(B * T * C), separate = poisoned<Real>(B * T * C);
    auto a = attention_args(B, T, H, D, qkv.data(), qkv.data() + C, qkv.data() + 2 * C, 3 * C,
                            fused.data());
    a.causal = causal;
    attention_forward_cpu(a);
    auto s = attention_args(B, T, H, D, q.data(), k.data(), v.data(), C, separate.data());
    s.causal = causal;
    attention_forward_cpu(s);
    const Ref r = reference(q.data(), k.data(), v.data(), B, T, H, D, C, causal, nullptr, a.scale);
    EXPECT_TRUE(close(fused, r.out, kTol<Real>)) << "causal " << causal;
    EXPECT_TRUE(close(separate, r.out, kTol<Real>)) << "causal " << causal;
  }
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
