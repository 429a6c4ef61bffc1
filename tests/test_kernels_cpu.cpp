// The CPU reference kernels (the oracle for the CUDA ones) against straightforward double loops
// written here, in float and double, on odd sizes, with outputs poisoned with NaN so that an
// element a kernel forgets to write fails the comparison.
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

TYPED_TEST(CpuKernel, MatmulBothLayoutsWithAndWithoutBias) {
  using Real = TypeParam;
  const int N = 7, IC = 37, OC = 29;
  const auto x = random<Real>(N * IC, 1), w = random<Real>(OC * IC, 2), b = random<Real>(OC, 3);
  for (bool in_out : {false, true}) {
    for (bool bias : {false, true}) {
      std::vector<double> want(N * OC);
      for (int n = 0; n < N; ++n)
        for (int o = 0; o < OC; ++o) {
          double s = bias ? b[o] : 0.0;
          for (int i = 0; i < IC; ++i)
            s += static_cast<double>(x[n * IC + i]) * (in_out ? w[i * OC + o] : w[o * IC + i]);
          want[n * OC + o] = s;
        }
      auto out = poisoned<Real>(N * OC);
      matmul_forward_cpu(out.data(), x.data(), w.data(), bias ? b.data() : nullptr, N, IC, OC,
                         in_out);
      EXPECT_TRUE(close(out, want, kTol<Real>)) << "w_in_out " << in_out << " bias " << bias;
    }
  }
}

TYPED_TEST(CpuKernel, LayerNormMatchesDoubleWithStatistics) {
  using Real = TypeParam;
  const int N = 7, C = 37;
  const auto x = random<Real>(N * C, 4, -3, 5);  // non-zero mean
  const auto w = random<Real>(C, 5), b = random<Real>(C, 6);
  const Real eps = static_cast<Real>(1e-5);
  std::vector<double> want(N * C), want_mean(N), want_rstd(N);
  for (int n = 0; n < N; ++n) {
    double m = 0, v = 0;
    for (int c = 0; c < C; ++c) m += x[n * C + c];
    m /= C;
    for (int c = 0; c < C; ++c) v += (x[n * C + c] - m) * (x[n * C + c] - m);
    const double r = 1 / std::sqrt(v / C + static_cast<double>(eps));
    for (int c = 0; c < C; ++c) want[n * C + c] = (x[n * C + c] - m) * r * w[c] + b[c];
    want_mean[n] = m;
    want_rstd[n] = r;
  }
  auto out = poisoned<Real>(N * C), mean = poisoned<Real>(N), rstd = poisoned<Real>(N);
  layernorm_forward_cpu(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C,
                        eps);
  EXPECT_TRUE(close(out, want, kTol<Real>));
  EXPECT_TRUE(close(mean, want_mean, kTol<Real>));
  EXPECT_TRUE(close(rstd, want_rstd, kTol<Real>));

  // Statistics are optional (inference does not keep them).
  auto out_only = poisoned<Real>(N * C);
  layernorm_forward_cpu(out_only.data(), nullptr, nullptr, x.data(), w.data(), b.data(), N, C, eps);
  EXPECT_EQ(out_only, out);
}

TYPED_TEST(CpuKernel, ActivationsMatchTheirFormulas) {
  using Real = TypeParam;
  const std::size_t n = 1001;
  const auto x = random<Real>(n, 7, -6, 6);
  const double k = std::sqrt(2 / std::acos(-1.0));
  for (Activation act : {Activation::relu, Activation::gelu_tanh, Activation::gelu_erf}) {
    std::vector<double> want(n);
    for (std::size_t i = 0; i < n; ++i) {
      const double v = x[i];
      switch (act) {
        case Activation::relu:
          want[i] = v > 0 ? v : 0;
          break;
        case Activation::gelu_tanh:
          want[i] = 0.5 * v * (1 + std::tanh(k * (v + 0.044715 * v * v * v)));
          break;
        case Activation::gelu_erf:
          want[i] = 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
          break;
      }
    }
    auto out = poisoned<Real>(n);
    activation_forward_cpu(out.data(), x.data(), n, act);
    EXPECT_TRUE(close(out, want, kTol<Real>)) << "activation " << static_cast<int>(act);
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

TYPED_TEST(CpuKernel, EmbeddingSumsTheTables) {
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
  for (const Case& k : {Case{"no token types", nullptr, nullptr},
                        Case{"types table, all type 0", wtt.data(), nullptr},
                        Case{"types table and ids", wtt.data(), type.data()}}) {
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

TYPED_TEST(CpuKernel, AttentionCausalBidirectionalAndPadding) {
  using Real = TypeParam;
  const int B = 2, T = 13, H = 3;
  std::vector<std::int32_t> mask(B * T, 1);
  for (int t = 9; t < T; ++t) mask[T + t] = 0;  // the second sequence ends in padding
  mask[T + 4] = 0;                              // and has a hole in the middle
  for (int D : {8, 32, 80}) {
    const int C = H * D;
    const auto q = random<Real>(B * T * C, 15, -2, 2), k = random<Real>(B * T * C, 16, -2, 2);
    const auto v = random<Real>(B * T * C, 17);
    for (bool causal : {true, false}) {
      const std::int32_t* const masks[] = {nullptr, mask.data()};
      for (const std::int32_t* m : masks) {
        SCOPED_TRACE("D " + std::to_string(D) + (causal ? " causal" : " bidirectional") +
                     (m ? " padded" : ""));
        auto out = poisoned<Real>(B * T * C), probs = poisoned<Real>(B * H * T * T);
        auto a = attention_args(B, T, H, D, q.data(), k.data(), v.data(), C, out.data());
        a.causal = causal, a.key_mask = m, a.probs = probs.data();
        attention_forward_cpu(a);
        const Ref r = reference(q.data(), k.data(), v.data(), B, T, H, D, C, causal, m, a.scale);
        EXPECT_TRUE(close(out, r.out, kTol<Real>));
        EXPECT_TRUE(close(probs, r.probs, kTol<Real>));
        for (int row = 0; row < B * H * T; ++row) {
          const int i = row % T, b = row / (H * T);
          double sum = 0;
          for (int j = 0; j < T; ++j) {
            const Real p = probs[row * T + j];
            sum += p;
            if (causal && j > i) {
              EXPECT_EQ(p, Real(0)) << "future key " << j << " of " << i;
            }
            if (m && m[b * T + j] == 0) {
              EXPECT_EQ(p, Real(0)) << "padded key " << j;
            }
          }
          EXPECT_NEAR(sum, 1.0, kTol<Real>) << "row " << row;
        }
      }
    }
  }
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

TYPED_TEST(CpuKernel, AttentionRowWithNoKeyGivesZeros) {
  using Real = TypeParam;
  // Causal with the first key padded: query 0 sees no key at all, the others see some.
  const int B = 1, T = 5, H = 2, D = 8, C = H * D;
  const auto x = random<Real>(T * C, 19);
  const std::vector<std::int32_t> mask = {0, 1, 1, 0, 1};
  auto out = poisoned<Real>(T * C), probs = poisoned<Real>(H * T * T);
  auto a = attention_args(B, T, H, D, x.data(), x.data(), x.data(), C, out.data());
  a.causal = true, a.key_mask = mask.data(), a.probs = probs.data();
  attention_forward_cpu(a);
  for (int c = 0; c < C; ++c) EXPECT_EQ(out[c], Real(0)) << "query 0, column " << c;
  for (int h = 0; h < H; ++h)
    for (int j = 0; j < T; ++j) EXPECT_EQ(probs[h * T * T + j], Real(0)) << "head " << h;
  const Ref r = reference(x.data(), x.data(), x.data(), B, T, H, D, C, true, mask.data(), a.scale);
  EXPECT_TRUE(close(out, r.out, kTol<Real>));

  // Every key padded, bidirectional: the whole output is zeros.
  const std::vector<std::int32_t> none(T, 0);
  a.causal = false, a.key_mask = none.data();
  std::fill(out.begin(), out.end(), std::numeric_limits<Real>::quiet_NaN());
  attention_forward_cpu(a);
  for (Real o : out) EXPECT_EQ(o, Real(0));
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
