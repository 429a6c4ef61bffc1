// The CPU reference kernels (the oracle for the CUDA ones) against straightforward double loops
// written here, on odd sizes, with poisoned outputs.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/embedding.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/residual.h"
#include "kernels/softmax.h"

namespace cugpt::kernels {
namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<float> random(std::size_t n, unsigned seed, float lo = -1, float hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  double scale = 1e-30;
  for (double w : want) scale = std::max(scale, std::fabs(w));
  for (std::size_t i = 0; i < got.size(); ++i)
    ASSERT_LE(std::fabs(got[i] - want[i]), tol * scale) << "at " << i << ": " << got[i];
}

TEST(CpuMatmul, BothLayoutsWithAndWithoutBias) {
  const int N = 7, IC = 37, OC = 29;
  const auto x = random(N * IC, 1), w = random(OC * IC, 2), b = random(OC, 3);
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
      std::vector<float> out(N * OC, kNaN);
      matmul_forward_cpu(out.data(), x.data(), w.data(), bias ? b.data() : nullptr, N, IC, OC,
                         in_out);
      expect_close(out, want, 1e-6);
    }
  }
}

TEST(CpuLayerNorm, MatchesDoubleWithStatistics) {
  const int N = 5, C = 37;
  auto x = random(N * C, 4, -3, 5);  // non-zero mean
  const auto w = random(C, 5), b = random(C, 6);
  std::vector<float> out(N * C, kNaN), mean(N, kNaN), rstd(N, kNaN);
  layernorm_forward_cpu(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C,
                        1e-5f);
  std::vector<double> want(N * C), want_mean(N), want_rstd(N);
  for (int n = 0; n < N; ++n) {
    double m = 0, v = 0;
    for (int c = 0; c < C; ++c) m += x[n * C + c];
    m /= C;
    for (int c = 0; c < C; ++c) v += (x[n * C + c] - m) * (x[n * C + c] - m);
    const double r = 1 / std::sqrt(v / C + 1e-5);
    for (int c = 0; c < C; ++c) want[n * C + c] = (x[n * C + c] - m) * r * w[c] + b[c];
    want_mean[n] = m;
    want_rstd[n] = r;
  }
  expect_close(out, want, 1e-6);
  expect_close(mean, want_mean, 1e-6);
  expect_close(rstd, want_rstd, 1e-6);
}

TEST(CpuActivation, KnownValues) {
  const std::vector<float> x = {-1.0f, 0.0f, 1.0f, 2.5f};
  std::vector<float> out(4, kNaN);
  activation_forward_cpu(out.data(), x.data(), 4, Activation::relu);
  EXPECT_EQ(out, (std::vector<float>{0, 0, 1, 2.5f}));
  activation_forward_cpu(out.data(), x.data(), 4, Activation::gelu_erf);
  EXPECT_NEAR(out[2], 0.8413447460685429, 1e-7);
  EXPECT_NEAR(out[0], -0.15865525393145707, 1e-7);
  activation_forward_cpu(out.data(), x.data(), 4, Activation::gelu_tanh);
  EXPECT_NEAR(out[2], 0.8411919906082768, 1e-7);
  EXPECT_NEAR(out[3], 2.484915733910001, 1e-6);
  std::vector<double> xd = {1.0}, od = {0};
  activation_forward_cpu(od.data(), xd.data(), 1, Activation::gelu_erf);
  EXPECT_NEAR(od[0], 0.8413447460685429, 1e-15);
}

TEST(CpuSoftmaxAndResidual, RowsSumToOne) {
  const int rows = 3, cols = 1001;
  const auto x = random(rows * cols, 7, -20, 20);
  std::vector<float> out(rows * cols, kNaN);
  softmax_forward_cpu(out.data(), x.data(), rows, cols);
  for (int r = 0; r < rows; ++r) {
    double sum = 0;
    for (int c = 0; c < cols; ++c) sum += out[r * cols + c];
    EXPECT_NEAR(sum, 1.0, 1e-5);
  }
  std::vector<float> a = {1, 2}, b = {0.5f, -2};
  residual_forward_cpu(a.data(), a.data(), b.data(), 2);  // in place
  EXPECT_EQ(a, (std::vector<float>{1.5f, 0}));
}

TEST(CpuEmbedding, SumsTheThreeTables) {
  const int B = 2, T = 3, C = 5;
  const auto wte = random(11 * C, 8), wpe = random(7 * C, 9), wtt = random(2 * C, 10);
  const std::vector<std::int32_t> tok = {3, 10, 0, 1, 2, 3}, pos = {0, 1, 2, 4, 5, 6},
                                  types = {0, 1, 0, 1, 1, 0};
  EmbeddingArgs a{B, T, C, tok.data(), pos.data(), types.data()};
  std::vector<float> out(B * T * C, kNaN);
  embedding_forward_cpu(a, out.data(), wte.data(), wpe.data(), wtt.data());
  for (int i = 0; i < B * T; ++i)
    for (int c = 0; c < C; ++c)
      EXPECT_FLOAT_EQ(out[i * C + c],
                      wte[tok[i] * C + c] + wpe[pos[i] * C + c] + wtt[types[i] * C + c]);
}

// Reference attention in double with explicit probabilities.
struct Ref {
  std::vector<double> out, probs;
};
Ref reference(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
              int B, int T, int H, int D, int stride, bool causal, const std::int32_t* mask) {
  Ref r{std::vector<double>(B * T * H * D), std::vector<double>(B * H * T * T)};
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < T; ++i) {
        std::vector<double> s(T, -INFINITY);
        double mx = -INFINITY;
        for (int j = 0; j < T; ++j) {
          if ((causal && j > i) || (mask && mask[b * T + j] == 0)) continue;
          double dot = 0;
          for (int d = 0; d < D; ++d)
            dot += static_cast<double>(q[(b * T + i) * stride + h * D + d]) *
                   k[(b * T + j) * stride + h * D + d];
          s[j] = dot / std::sqrt(static_cast<double>(D));
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int j = 0; j < T; ++j) sum += s[j] = std::isinf(mx) ? 0 : std::exp(s[j] - mx);
        for (int j = 0; j < T; ++j) {
          const double p = sum > 0 ? s[j] / sum : 0;
          r.probs[((b * H + h) * T + i) * T + j] = p;
          for (int d = 0; d < D; ++d)
            r.out[(b * T + i) * H * D + h * D + d] += p * v[(b * T + j) * stride + h * D + d];
        }
      }
  return r;
}

TEST(CpuAttention, CausalBidirectionalAndPadding) {
  const int B = 2, T = 13, H = 3;
  for (int D : {8, 32, 80}) {
    const int C = H * D;
    const auto q = random(B * T * C, 11), k = random(B * T * C, 12), v = random(B * T * C, 13);
    std::vector<std::int32_t> mask(B * T, 1);
    for (int t = 9; t < T; ++t) mask[T + t] = 0;  // the second sequence ends in padding
    for (bool causal : {true, false}) {
      for (const std::int32_t* m : std::vector<const std::int32_t*>{nullptr, mask.data()}) {
        std::vector<float> out(B * T * C, kNaN), probs(B * H * T * T, kNaN);
        AttentionArgs<float> a;
        a.B = B, a.T = T, a.H = H, a.D = D, a.q = q.data(), a.k = k.data(), a.v = v.data();
        a.row_stride = C, a.out = out.data(), a.causal = causal, a.key_mask = m;
        a.scale = 1.0f / std::sqrt(static_cast<float>(D)), a.probs = probs.data();
        attention_forward_cpu(a);
        const Ref r = reference(q, k, v, B, T, H, D, C, causal, m);
        expect_close(out, r.out, 1e-5);
        expect_close(probs, r.probs, 1e-5);
        for (int row = 0; row < B * H * T; ++row) {
          double sum = 0;
          for (int j = 0; j < T; ++j) sum += probs[row * T + j];
          EXPECT_NEAR(sum, 1.0, 1e-5);
          const int i = row % T, b = row / (H * T);
          for (int j = 0; j < T; ++j) {
            if (causal && j > i) {
              EXPECT_EQ(probs[row * T + j], 0.0f) << "future key";
            }
            if (m && m[b * T + j] == 0) {
              EXPECT_EQ(probs[row * T + j], 0.0f) << "padded key";
            }
          }
        }
      }
    }
  }
}

TEST(CpuAttention, FusedQkvLayoutEqualsSeparateBuffers) {
  const int B = 2, T = 7, H = 2, D = 8, C = H * D;
  const auto qkv = random(B * T * 3 * C, 14);
  std::vector<float> q(B * T * C), k(B * T * C), v(B * T * C);
  for (int r = 0; r < B * T; ++r)
    for (int c = 0; c < C; ++c) {
      q[r * C + c] = qkv[r * 3 * C + c];
      k[r * C + c] = qkv[r * 3 * C + C + c];
      v[r * C + c] = qkv[r * 3 * C + 2 * C + c];
    }
  std::vector<float> fused(B * T * C, kNaN), separate(B * T * C, kNaN);
  AttentionArgs<float> a;
  a.B = B, a.T = T, a.H = H, a.D = D, a.causal = true, a.scale = 0.3f;
  a.q = qkv.data(), a.k = qkv.data() + C, a.v = qkv.data() + 2 * C, a.row_stride = 3 * C;
  a.out = fused.data();
  attention_forward_cpu(a);
  a.q = q.data(), a.k = k.data(), a.v = v.data(), a.row_stride = C, a.out = separate.data();
  attention_forward_cpu(a);
  EXPECT_EQ(fused, separate);
}

TEST(CpuAttention, FullyMaskedRowGivesZeros) {
  const int B = 1, T = 4, H = 1, D = 8;
  const auto x = random(T * D, 15);
  const std::vector<std::int32_t> mask = {0, 0, 0, 0};
  std::vector<float> out(T * D, kNaN);
  AttentionArgs<float> a;
  a.B = B, a.T = T, a.H = H, a.D = D, a.q = a.k = a.v = x.data(), a.row_stride = D;
  a.out = out.data(), a.key_mask = mask.data(), a.scale = 1;
  attention_forward_cpu(a);
  for (float o : out) EXPECT_EQ(o, 0.0f);
}

}  // namespace
}  // namespace cugpt::kernels
