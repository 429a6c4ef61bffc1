// The CPU backward kernels against central finite differences of a scalar loss
// L = sum(out ⊙ R), R fixed and random, in double on small odd sizes: every element of every
// input and parameter is perturbed; then cross-entropy's special rows and errors. (The float
// kernels against these, the accumulation of parameter gradients and the columns a fused
// gradient must leave alone are rows of the kernel-case table, tests/test_op_cases.cpp.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/cross_entropy.h"
#include "kernels/embedding.h"
#include "kernels/error.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"

namespace cugpt::kernels {
namespace {

using Vec = std::vector<double>;
using Ids = std::vector<std::int32_t>;
constexpr double kEps = 1e-6;
constexpr double kTol = 1e-6;
const double kNaN = std::numeric_limits<double>::quiet_NaN();

Vec random(std::size_t n, unsigned seed, double lo = -1, double hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Vec v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

template <typename T>
std::vector<T> cast(const Vec& v) {
  return std::vector<T>(v.begin(), v.end());
}
template <typename T>
Vec widen(const std::vector<T>& v) {
  return Vec(v.begin(), v.end());
}

// Central differences of loss() for every element of x, against the analytic gradient.
void check_gradient(const std::string& what, Vec& x, const Vec& grad,
                    const std::function<double()>& loss) {
  ASSERT_EQ(x.size(), grad.size()) << what;
  double largest = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + kEps;
    const double up = loss();
    x[i] = saved - kEps;
    const double down = loss();
    x[i] = saved;
    const double numeric = (up - down) / (2 * kEps);
    largest = std::max(largest, std::fabs(numeric));
    ASSERT_NEAR(grad[i], numeric, kTol * (1 + std::fabs(numeric))) << what << "[" << i << "]";
  }
  // A loss that ignored x would agree with a zero gradient: insist the check saw a signal.
  EXPECT_GT(largest, 1e-3) << what;
}

// Float results against double ones, relative to the largest double value.
void expect_agree(const std::string& what, const Vec& got, const Vec& want, double tol = 1e-5) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 1e-30;
  for (double w : want) scale = std::max(scale, std::fabs(w));
  for (std::size_t i = 0; i < got.size(); ++i)
    ASSERT_LE(std::fabs(got[i] - want[i]), tol * scale) << what << "[" << i << "]: " << got[i];
}

// Each op below: its inputs, forward<T>() giving the output, and backward<T>() giving the
// gradients for dout = R (parameter gradients start at zero, input gradients are poisoned with
// NaN so an unwritten element shows).

struct Matmul {
  int N = 3, IC = 5, OC = 7;
  bool w_in_out = false, bias = false;
  Vec x = random(N * IC, 1), w = random(OC * IC, 2), b = random(OC, 3), r = random(N * OC, 4);

  template <typename T>
  Vec forward() const {
    auto xt = cast<T>(x), wt = cast<T>(w), bt = cast<T>(b);
    std::vector<T> out(N * OC);
    matmul_forward_cpu(out.data(), xt.data(), wt.data(), bias ? bt.data() : nullptr, N, IC, OC,
                       w_in_out);
    return widen(out);
  }
  template <typename T>
  std::vector<Vec> backward() const {
    auto xt = cast<T>(x), wt = cast<T>(w), g = cast<T>(r);
    std::vector<T> dx(N * IC, T(kNaN)), dw(w.size(), T(0)), db(OC, T(0));
    matmul_backward_cpu(dx.data(), dw.data(), bias ? db.data() : nullptr, g.data(), xt.data(),
                        wt.data(), N, IC, OC, w_in_out);
    return {widen(dx), widen(dw), widen(db)};
  }
};

TEST(BackwardMatmul, FiniteDifferencesBothLayoutsWithAndWithoutBias) {
  for (bool in_out : {false, true}) {
    for (bool bias : {false, true}) {
      SCOPED_TRACE(std::string(in_out ? "[IC, OC]" : "[OC, IC]") + (bias ? " bias" : ""));
      Matmul m;
      m.w_in_out = in_out;
      m.bias = bias;
      const auto g = m.backward<double>();
      const auto loss = [&] { return dot(m.forward<double>(), m.r); };
      check_gradient("dx", m.x, g[0], loss);
      check_gradient("dw", m.w, g[1], loss);
      if (bias) check_gradient("dbias", m.b, g[2], loss);
      if (!bias) {
        EXPECT_EQ(g[2], Vec(m.OC, 0.0)) << "a nullptr dbias is skipped";
      }
    }
  }
}

struct LayerNorm {
  int N = 3, C = 9;
  Vec x = random(N * C, 11, -2, 2), w = random(C, 12, 0.5, 1.5), b = random(C, 13);
  Vec r = random(N * C, 14);

  template <typename T>
  Vec forward(std::vector<T>* mean = nullptr, std::vector<T>* rstd = nullptr) const {
    auto xt = cast<T>(x), wt = cast<T>(w), bt = cast<T>(b);
    std::vector<T> out(N * C), m(N), s(N);
    layernorm_forward_cpu(out.data(), m.data(), s.data(), xt.data(), wt.data(), bt.data(), N, C,
                          T(1e-5));
    if (mean) *mean = m;
    if (rstd) *rstd = s;
    return widen(out);
  }
  template <typename T>
  std::vector<Vec> backward() const {
    std::vector<T> mean, rstd;
    forward<T>(&mean, &rstd);
    auto xt = cast<T>(x), wt = cast<T>(w), g = cast<T>(r);
    std::vector<T> dx(N * C, T(kNaN)), dw(C, T(0)), db(C, T(0));
    layernorm_backward_cpu(dx.data(), dw.data(), db.data(), g.data(), xt.data(), wt.data(),
                           mean.data(), rstd.data(), N, C);
    return {widen(dx), widen(dw), widen(db)};
  }
};

TEST(BackwardLayerNorm, FiniteDifferences) {
  LayerNorm ln;
  const auto g = ln.backward<double>();
  const auto loss = [&] { return dot(ln.forward<double>(), ln.r); };
  check_gradient("dx", ln.x, g[0], loss);
  check_gradient("dweight", ln.w, g[1], loss);
  check_gradient("dbias", ln.b, g[2], loss);
}

TEST(BackwardActivation, FiniteDifferencesEachActivationAndInPlace) {
  const std::size_t n = 13;
  // Away from ReLU's kink at 0, where the central difference is not the derivative.
  Vec x = random(n, 21, -3, 3);
  for (auto& v : x) v += v >= 0 ? 0.01 : -0.01;
  const Vec r = random(n, 22);
  for (Activation act : {Activation::relu, Activation::gelu_tanh, Activation::gelu_erf}) {
    SCOPED_TRACE(static_cast<int>(act));
    const auto forward = [&] {
      Vec out(n);
      activation_forward_cpu(out.data(), x.data(), n, act);
      return out;
    };
    Vec dx(n, kNaN);
    activation_backward_cpu(dx.data(), r.data(), x.data(), n, act);
    check_gradient("dx", x, dx, [&] { return dot(forward(), r); });
    Vec in_place = r;
    activation_backward_cpu(in_place.data(), in_place.data(), x.data(), n, act);
    EXPECT_EQ(in_place, dx);
  }
}

// Tokens repeat within and across sequences, so the scatter-add must accumulate.
struct Embedding {
  int B = 2, T = 3, C = 5, V = 4, P = 3, types = 2;
  Ids tokens{1, 3, 1, 1, 0, 2}, positions{0, 1, 2, 0, 1, 2}, token_types{0, 1, 1, 0, 0, 1};
  bool use_types = true, use_wtt = true;
  Vec wte = random(V * C, 31), wpe = random(P * C, 32), wtt = random(types * C, 33);
  Vec r = random(B * T * C, 34);

  EmbeddingArgs args() const {
    return {B, T, C, tokens.data(), positions.data(), use_types ? token_types.data() : nullptr};
  }
  template <typename T_>
  Vec forward() const {
    auto te = cast<T_>(wte), pe = cast<T_>(wpe), tt = cast<T_>(wtt);
    std::vector<T_> out(B * T * C);
    embedding_forward_cpu(args(), out.data(), te.data(), pe.data(), use_wtt ? tt.data() : nullptr);
    return widen(out);
  }
  template <typename T_>
  std::vector<Vec> backward() const {
    auto g = cast<T_>(r);
    std::vector<T_> te(wte.size(), T_(0)), pe(wpe.size(), T_(0)), tt(wtt.size(), T_(0));
    embedding_backward_cpu(args(), g.data(), te.data(), pe.data(), use_wtt ? tt.data() : nullptr);
    return {widen(te), widen(pe), widen(tt)};
  }
};

TEST(BackwardEmbedding, FiniteDifferencesWithRepeatedTokens) {
  // Token types given; no token types (type 0 everywhere); no token-type table at all.
  for (int mode = 0; mode < 3; ++mode) {
    SCOPED_TRACE(mode);
    Embedding e;
    e.use_types = mode == 0;
    e.use_wtt = mode < 2;
    const auto g = e.backward<double>();
    const auto loss = [&] { return dot(e.forward<double>(), e.r); };
    check_gradient("dwte", e.wte, g[0], loss);
    check_gradient("dwpe", e.wpe, g[1], loss);
    if (e.use_wtt) check_gradient("dwtt", e.wtt, g[2], loss);
  }
}

// q, k and v live in one buffer: fused as (B, T, 3C + pad) rows with k = q + C, v = q + 2C, or
// separate as three (B, T, C) blocks. The gradient buffer has the same layout.
struct Attention {
  int B = 2, T = 5, H = 2, D = 3, C = H * D;
  bool causal = false, fused = false;
  int pad = 0;  // extra columns in each fused row, which the backward must not touch
  // Batch 1 masks its first key, so its first causal query sees no key at all.
  Ids mask{1, 1, 0, 1, 1, 0, 1, 1, 1, 0};
  Vec buf, r = random(B * T * C, 52);

  int stride() const { return fused ? 3 * C + pad : C; }
  std::size_t offset(int which) const {
    return fused ? static_cast<std::size_t>(which) * C
                 : static_cast<std::size_t>(which) * B * T * C;
  }
  void init() { buf = random(fused ? B * T * stride() : 3 * B * T * C, 51, -1.5, 1.5); }

  template <typename R>
  Vec forward() const {
    auto in = cast<R>(buf);
    std::vector<R> out(B * T * C);
    AttentionArgs<R> a;
    a.B = B, a.T = T, a.H = H, a.D = D;
    a.q = in.data() + offset(0), a.k = in.data() + offset(1), a.v = in.data() + offset(2);
    a.row_stride = stride(), a.out = out.data(), a.causal = causal, a.key_mask = mask.data();
    a.scale = R(1 / std::sqrt(double(D)));
    attention_forward_cpu(a);
    return widen(out);
  }
  template <typename R>
  Vec backward(double fill = kNaN) const {
    auto in = cast<R>(buf), g = cast<R>(r);
    std::vector<R> grad(buf.size(), R(fill));
    AttentionBackwardArgs<R> a;
    a.B = B, a.T = T, a.H = H, a.D = D;
    a.q = in.data() + offset(0), a.k = in.data() + offset(1), a.v = in.data() + offset(2);
    a.row_stride = stride(), a.dout = g.data();
    a.dq = grad.data() + offset(0), a.dk = grad.data() + offset(1), a.dv = grad.data() + offset(2);
    a.causal = causal, a.key_mask = mask.data(), a.scale = R(1 / std::sqrt(double(D)));
    attention_backward_cpu(a);
    return widen(grad);
  }
};

TEST(BackwardAttention, FiniteDifferencesCausalBidirectionalFusedSeparate) {
  for (bool causal : {false, true}) {
    for (bool fused : {false, true}) {
      SCOPED_TRACE(std::string(causal ? "causal" : "bidirectional") + (fused ? " fused" : ""));
      Attention at;
      at.causal = causal;
      at.fused = fused;
      at.init();
      const Vec g = at.backward<double>();
      check_gradient("dqkv", at.buf, g, [&] { return dot(at.forward<double>(), at.r); });
      if (causal) {
        // Batch 1's first query attends to nothing: its dq row is zero.
        const std::size_t row = static_cast<std::size_t>(at.T) * at.stride() + at.offset(0);
        for (int d = 0; d < at.C; ++d) EXPECT_EQ(g[row + d], 0.0);
      }
    }
  }
}

struct CrossEntropy {
  int N = 4, V = 11, ignore = -100;
  double scale = 0.37;
  Vec logits = random(N * V, 41, -3, 3);
  Ids targets{3, -100, 10, 0};

  template <typename T>
  Vec losses() const {
    auto x = cast<T>(logits);
    std::vector<T> out(N, T(kNaN));
    cross_entropy_forward_backward_cpu(out.data(), nullptr, x.data(), targets.data(), N, V, ignore,
                                       T(scale));
    return widen(out);
  }
  // In place when asked: the gradient overwrites the logits.
  template <typename T>
  Vec dlogits(bool in_place = false) const {
    auto x = cast<T>(logits);
    std::vector<T> g(x.size(), T(kNaN));
    T* dst = in_place ? x.data() : g.data();
    cross_entropy_forward_backward_cpu(static_cast<T*>(nullptr), dst, x.data(), targets.data(), N,
                                       V, ignore, T(scale));
    return widen(in_place ? x : g);
  }
};

TEST(BackwardCrossEntropy, FiniteDifferencesWithIgnoredRow) {
  CrossEntropy ce;
  const Vec g = ce.dlogits<double>();
  // dlogits is the gradient of grad_scale * (sum of the row losses).
  check_gradient("dlogits", ce.logits, g, [&] {
    const Vec l = ce.losses<double>();
    return ce.scale * (l[0] + l[1] + l[2] + l[3]);
  });
  EXPECT_EQ(ce.losses<double>()[1], 0.0);
  for (int v = 0; v < ce.V; ++v) EXPECT_EQ(g[ce.V + v], 0.0);
  EXPECT_EQ(ce.dlogits<double>(true), g);
  expect_agree("float dlogits", ce.dlogits<float>(), g);
  expect_agree("float dlogits in place", ce.dlogits<float>(true), g);
  expect_agree("float losses", ce.losses<float>(), ce.losses<double>());
}

TEST(BackwardCrossEntropy, UniformRowIsLogVAndLargeLogitsAreStable) {
  CrossEntropy ce;
  for (int v = 0; v < ce.V; ++v) ce.logits[v] = 2.5;
  EXPECT_NEAR(ce.losses<double>()[0], std::log(double(ce.V)), 1e-12);
  EXPECT_NEAR(ce.losses<float>()[0], std::log(double(ce.V)), 1e-6);
  const Vec g = ce.dlogits<double>();
  for (int v = 0; v < ce.V; ++v)
    EXPECT_NEAR(g[v], ce.scale * (1.0 / ce.V - (v == ce.targets[0])), 1e-15);
  // Without the max subtraction exp(1000) overflows; with it the row is shift invariant.
  CrossEntropy shifted = ce;
  for (int v = 0; v < ce.V; ++v) shifted.logits[2 * ce.V + v] += 1000;
  expect_agree("losses", shifted.losses<double>(), ce.losses<double>(), 1e-10);
  expect_agree("dlogits", shifted.dlogits<double>(), g, 1e-10);
  expect_agree("float losses", shifted.losses<float>(), ce.losses<double>(), 1e-5);
}

TEST(BackwardCrossEntropy, OutOfRangeTargetThrowsNamingRowAndId) {
  for (std::int32_t bad : {11, -1, 1000}) {
    CrossEntropy ce;
    ce.targets[2] = bad;
    Vec x = ce.logits, losses(ce.N, 0.0);
    try {
      cross_entropy_forward_backward_cpu(losses.data(), x.data(), x.data(), ce.targets.data(), ce.N,
                                         ce.V, ce.ignore, 1.0);
      FAIL() << "target " << bad << " did not throw";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("row 2"), std::string::npos) << what;
      EXPECT_NE(what.find(std::to_string(bad)), std::string::npos) << what;
    }
    EXPECT_EQ(x, ce.logits) << "nothing is written before the check";
    EXPECT_EQ(losses, Vec(ce.N, 0.0));
  }
}

}  // namespace
}  // namespace cugpt::kernels
