// Plain double loops for the forward ops of the kernel-case table: the formulas written out
// once more, independently of kernels/cpu, so that the cpu kernels (the reference of every other
// device) are themselves checked. Inputs are the runs' rounded values; layouts as in nn/ops.h.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/activation.h"

namespace cugpt::testing::oracle {

using Vec = std::vector<double>;
using Ids = std::vector<std::int32_t>;

inline double act(double v, kernels::Activation a) {
  const double k = std::sqrt(2 / std::acos(-1.0));
  switch (a) {
    case kernels::Activation::relu:
      return v > 0 ? v : 0;
    case kernels::Activation::gelu_tanh:
      return 0.5 * v * (1 + std::tanh(k * (v + 0.044715 * v * v * v)));
    case kernels::Activation::gelu_erf:
      break;
  }
  return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
}

inline Vec activation(Vec x, kernels::Activation a) {
  for (double& v : x) v = act(v, a);
  return x;
}

inline Vec add(const Vec& a, const Vec& b) {
  Vec s(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) s[i] = a[i] + b[i];
  return s;
}

// x (N, IC) times w ([OC, IC], or [IC, OC] with w_in_out) plus bias (empty: none).
inline Vec linear(const Vec& x, const Vec& w, const Vec& bias, int N, int IC, int OC,
                  bool w_in_out) {
  Vec out(static_cast<std::size_t>(N) * OC);
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < OC; ++o) {
      double s = bias.empty() ? 0.0 : bias[o];
      for (int i = 0; i < IC; ++i) s += x[n * IC + i] * (w_in_out ? w[i * OC + o] : w[o * IC + i]);
      out[n * OC + o] = s;
    }
  return out;
}

struct Norm {
  Vec out, mean, rstd;
};
inline Norm layernorm(const Vec& x, const Vec& w, const Vec& b, int N, int C, double eps) {
  Norm r{Vec(x.size()), Vec(N), Vec(N)};
  for (int n = 0; n < N; ++n) {
    double m = 0, v = 0;
    for (int c = 0; c < C; ++c) m += x[n * C + c];
    m /= C;
    for (int c = 0; c < C; ++c) v += (x[n * C + c] - m) * (x[n * C + c] - m);
    const double rs = 1 / std::sqrt(v / C + eps);
    for (int c = 0; c < C; ++c) r.out[n * C + c] = (x[n * C + c] - m) * rs * w[c] + b[c];
    r.mean[n] = m, r.rstd[n] = rs;
  }
  return r;
}

// wte[tokens] + wpe[positions] (+ wtt[0] when wtt is not empty), C columns.
inline Vec embedding(const Ids& tokens, const Ids& positions, const Vec& wte, const Vec& wpe,
                     const Vec& wtt, int C) {
  Vec out(tokens.size() * C);
  for (std::size_t i = 0; i < tokens.size(); ++i)
    for (int c = 0; c < C; ++c)
      out[i * C + c] =
          wte[tokens[i] * C + c] + wpe[positions[i] * C + c] + (wtt.empty() ? 0.0 : wtt[c]);
  return out;
}

// Attention of the queries at rows `q0 + i` of sequence b against keys [0, keys(b, i)): q, k, v
// with row strides and column offsets; mask (B*Tk, empty: none) drops padded keys. Out (B, Tq,
// H*D); probs (B, H, Tq, Tk). A query that sees no key gives zeros.
struct Attn {
  const Vec* q;
  std::size_t q_off, q_stride;
  const Vec* k;
  std::size_t k_off, k_stride;
  const Vec* v;
  std::size_t v_off, v_stride;
  int B, Tq, Tk, H, D;
  bool causal;
  int past = 0;  // query i sits at position past + i
  const Ids* mask = nullptr;
};
struct AttnOut {
  Vec out, probs;
};
inline AttnOut attention(const Attn& a) {
  const int C = a.H * a.D;
  AttnOut r{Vec(static_cast<std::size_t>(a.B) * a.Tq * C),
            Vec(static_cast<std::size_t>(a.B) * a.H * a.Tq * a.Tk)};
  const double scale = 1 / std::sqrt(static_cast<double>(a.D));
  for (int b = 0; b < a.B; ++b)
    for (int h = 0; h < a.H; ++h)
      for (int i = 0; i < a.Tq; ++i) {
        Vec s(a.Tk, 0);
        std::vector<bool> seen(a.Tk, false);
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < a.Tk; ++j) {
          if (a.causal && j > a.past + i) continue;
          if (a.mask && (*a.mask)[b * a.Tk + j] == 0) continue;
          seen[j] = true;
          for (int d = 0; d < a.D; ++d)
            s[j] += (*a.q)[a.q_off + (b * a.Tq + i) * a.q_stride + h * a.D + d] *
                    (*a.k)[a.k_off + (b * a.Tk + j) * a.k_stride + h * a.D + d];
          s[j] *= scale;
          mx = std::max(mx, s[j]);
        }
        for (int j = 0; j < a.Tk; ++j) sum += s[j] = seen[j] ? std::exp(s[j] - mx) : 0;
        for (int j = 0; j < a.Tk; ++j) {
          const double p = sum > 0 ? s[j] / sum : 0;
          r.probs[((static_cast<std::size_t>(b) * a.H + h) * a.Tq + i) * a.Tk + j] = p;
          for (int d = 0; d < a.D; ++d)
            r.out[(b * a.Tq + i) * C + h * a.D + d] +=
                p * (*a.v)[a.v_off + (b * a.Tk + j) * a.v_stride + h * a.D + d];
        }
      }
  return r;
}

// Softmax cross-entropy of logits (N, V): the mean over `mean_over` rows and its gradient times
// grad_scale; ignored rows count nothing and get a zero gradient.
struct Loss {
  double loss;
  Vec grad;
};
inline Loss cross_entropy(const Vec& logits, const Ids& targets, int V, std::int32_t ignore,
                          double grad_scale, double mean_over) {
  Loss r{0, Vec(logits.size(), 0.0)};
  for (std::size_t n = 0; n < targets.size(); ++n) {
    if (targets[n] == ignore) continue;
    const double* row = logits.data() + n * V;
    const double mx = *std::max_element(row, row + V);
    double sum = 0;
    for (int v = 0; v < V; ++v) sum += std::exp(row[v] - mx);
    r.loss += (std::log(sum) + mx - row[targets[n]]) / mean_over;
    for (int v = 0; v < V; ++v)
      r.grad[n * V + v] =
          grad_scale * (std::exp(row[v] - mx) / sum - (v == targets[n])) / mean_over;
  }
  return r;
}

// ---- backward ------------------------------------------------------------------------------

inline double act_derivative(double v, kernels::Activation a) {
  const double k = std::sqrt(2 / std::acos(-1.0)), pi = std::acos(-1.0);
  switch (a) {
    case kernels::Activation::relu:
      return v > 0 ? 1 : 0;
    case kernels::Activation::gelu_tanh: {
      const double t = std::tanh(k * (v + 0.044715 * v * v * v));
      return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * 0.044715 * v * v);
    }
    case kernels::Activation::gelu_erf:
      break;
  }
  return 0.5 * (1 + std::erf(v / std::sqrt(2.0))) + v * std::exp(-v * v / 2) / std::sqrt(2 * pi);
}

// Gradients of linear for dout (N, OC): dx (N, IC); dw and db accumulate onto their inputs.
struct LinearGrads {
  Vec dx, dw, db;
};
inline LinearGrads linear_backward(const Vec& dout, const Vec& x, const Vec& w, Vec dw, Vec db,
                                   int N, int IC, int OC, bool w_in_out, bool bias) {
  Vec dx(static_cast<std::size_t>(N) * IC, 0.0);
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < OC; ++o) {
      const double g = dout[n * OC + o];
      if (bias) db[o] += g;
      for (int i = 0; i < IC; ++i) {
        const std::size_t wi = w_in_out ? i * OC + o : o * IC + i;
        dx[n * IC + i] += g * w[wi];
        dw[wi] += g * x[n * IC + i];
      }
    }
  return {dx, dw, db};
}

// LayerNorm's gradients (eps as the forward's): dx, and dw, db accumulated onto their inputs.
inline LinearGrads layernorm_backward(const Vec& dout, const Vec& x, const Vec& w, Vec dw, Vec db,
                                      int N, int C, double eps) {
  const Norm f = layernorm(x, w, Vec(C, 0.0), N, C, eps);
  Vec dx(x.size());
  for (int n = 0; n < N; ++n) {
    double mean_g = 0, mean_gx = 0;
    for (int c = 0; c < C; ++c) {
      const double xhat = (x[n * C + c] - f.mean[n]) * f.rstd[n], g = dout[n * C + c] * w[c];
      mean_g += g / C, mean_gx += g * xhat / C;
      dw[c] += dout[n * C + c] * xhat, db[c] += dout[n * C + c];
    }
    for (int c = 0; c < C; ++c) {
      const double xhat = (x[n * C + c] - f.mean[n]) * f.rstd[n];
      dx[n * C + c] = f.rstd[n] * (dout[n * C + c] * w[c] - mean_g - xhat * mean_gx);
    }
  }
  return {dx, dw, db};
}

// Scatter-add of dout's rows (C wide) into table rows ids[i] of d.
inline Vec scatter_add(Vec d, const Vec& dout, const Ids& ids, int C) {
  for (std::size_t i = 0; i < ids.size(); ++i)
    for (int c = 0; c < C; ++c) d[ids[i] * C + c] += dout[i * C + c];
  return d;
}

}  // namespace cugpt::testing::oracle
