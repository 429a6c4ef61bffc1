#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/attention.h"
#include "kernels/error.h"

namespace cugpt::kernels {

namespace {
// One (batch, head) at a time, one query row at a time: the row of probabilities P is
// recomputed exactly as the forward computes it, then
//   dP = dout · V^T,  dS = P ⊙ (dP − rowsum(dP ⊙ P)),
//   dq = scale · dS · K,  dk += scale · dS^T · Q,  dv += P^T · dout.
// Only two rows of length T exist at a time (P and dP).
template <typename T>
void attend_backward(const AttentionBackwardArgs<T>& a) {
  CUGPT_CHECK(a.B >= 0 && a.T >= 0 && a.H > 0 && a.D > 0 && a.row_stride >= a.H * a.D,
              "attention_backward: bad sizes");
  CUGPT_CHECK(a.dq && a.dk && a.dv && a.dout, "attention_backward: null gradient pointer");
  const std::size_t T_ = static_cast<std::size_t>(a.T), D = static_cast<std::size_t>(a.D);
  const std::size_t stride = static_cast<std::size_t>(a.row_stride);
  const std::size_t C = static_cast<std::size_t>(a.H) * D;
  std::vector<T> p(T_), dp(T_);
  for (std::size_t b = 0; b < static_cast<std::size_t>(a.B); ++b) {
    const std::int32_t* mask = a.key_mask ? a.key_mask + b * T_ : nullptr;
    const std::size_t base = b * T_ * stride;
    for (std::size_t h = 0; h < static_cast<std::size_t>(a.H); ++h) {
      // Zero only this head's columns: in a fused (B, T, 3C) gradient buffer the other columns
      // belong to other heads (or are not gradients at all) and must stay as they are.
      const std::size_t col = base + h * D;
      for (std::size_t t = 0; t < T_; ++t) {
        std::fill_n(a.dq + col + t * stride, D, T(0));
        std::fill_n(a.dk + col + t * stride, D, T(0));
        std::fill_n(a.dv + col + t * stride, D, T(0));
      }
      for (std::size_t i = 0; i < T_; ++i) {
        const T* q = a.q + col + i * stride;
        const std::size_t keys = a.causal ? i + 1 : T_;
        T mx = -std::numeric_limits<T>::infinity();
        for (std::size_t j = 0; j < keys; ++j) {
          if (mask && mask[j] == 0) {
            p[j] = -std::numeric_limits<T>::infinity();
            continue;
          }
          const T* k = a.k + col + j * stride;
          T s = 0;
          for (std::size_t d = 0; d < D; ++d) s += q[d] * k[d];
          p[j] = s * a.scale;
          mx = std::max(mx, p[j]);
        }
        if (std::isinf(mx)) continue;  // every key masked: the output was zero, so is its grad
        T sum = 0;
        for (std::size_t j = 0; j < keys; ++j) {
          p[j] = std::exp(p[j] - mx);
          sum += p[j];
        }
        const T inv = T(1) / sum;
        const T* go = a.dout + (b * T_ + i) * C + h * D;
        T p_dp = 0;  // rowsum(dP ⊙ P)
        for (std::size_t j = 0; j < keys; ++j) {
          p[j] *= inv;
          // A zero probability (masked or underflowed) contributes nothing to any gradient.
          if (p[j] == T(0)) continue;
          const T* v = a.v + col + j * stride;
          T s = 0;
          for (std::size_t d = 0; d < D; ++d) s += go[d] * v[d];
          dp[j] = s;
          p_dp += p[j] * s;
        }
        T* gq = a.dq + col + i * stride;
        for (std::size_t j = 0; j < keys; ++j) {
          if (p[j] == T(0)) continue;
          const T ds = a.scale * p[j] * (dp[j] - p_dp);
          const T* k = a.k + col + j * stride;
          T* gk = a.dk + col + j * stride;
          T* gv = a.dv + col + j * stride;
          for (std::size_t d = 0; d < D; ++d) {
            gq[d] += ds * k[d];
            gk[d] += ds * q[d];
            gv[d] += p[j] * go[d];
          }
        }
      }
    }
  }
}
}  // namespace

void attention_backward_cpu(const AttentionBackwardArgs<float>& a) {
  attend_backward(a);
}
void attention_backward_cpu(const AttentionBackwardArgs<double>& a) {
  attend_backward(a);
}

}  // namespace cugpt::kernels
