#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/attention.h"
#include "kernels/error.h"

namespace cugpt::kernels {

namespace {
// One (batch, head) at a time: scores for a query row, max-subtracted softmax over the keys it
// may see, then the weighted sum of values. The T x T matrix exists only as one row.
template <typename T>
void attend(const AttentionArgs<T>& a) {
  CUGPT_CHECK(a.B >= 0 && a.T >= 0 && a.H > 0 && a.D > 0 && a.row_stride >= a.H * a.D,
              "attention: bad sizes");
  const std::size_t T_ = static_cast<std::size_t>(a.T), D = static_cast<std::size_t>(a.D);
  const std::size_t stride = static_cast<std::size_t>(a.row_stride);
  const std::size_t C = static_cast<std::size_t>(a.H) * D;
  std::vector<T> p(T_);
  for (std::size_t b = 0; b < static_cast<std::size_t>(a.B); ++b) {
    const std::int32_t* mask = a.key_mask ? a.key_mask + b * T_ : nullptr;
    for (std::size_t h = 0; h < static_cast<std::size_t>(a.H); ++h) {
      for (std::size_t i = 0; i < T_; ++i) {
        const T* q = a.q + (b * T_ + i) * stride + h * D;
        const std::size_t keys = a.causal ? i + 1 : T_;
        T mx = -std::numeric_limits<T>::infinity();
        for (std::size_t j = 0; j < keys; ++j) {
          if (mask && mask[j] == 0) {
            p[j] = -std::numeric_limits<T>::infinity();
            continue;
          }
          const T* k = a.k + (b * T_ + j) * stride + h * D;
          T s = 0;
          for (std::size_t d = 0; d < D; ++d) s += q[d] * k[d];
          p[j] = s * a.scale;
          mx = std::max(mx, p[j]);
        }
        T sum = 0;
        for (std::size_t j = 0; j < keys; ++j) {
          p[j] = std::isinf(mx) ? T(0) : std::exp(p[j] - mx);  // all masked: a zero row
          sum += p[j];
        }
        const T inv = sum > T(0) ? T(1) / sum : T(0);
        T* o = a.out + (b * T_ + i) * C + h * D;
        std::fill(o, o + D, T(0));
        for (std::size_t j = 0; j < keys; ++j) {
          p[j] *= inv;
          if (p[j] == T(0)) continue;
          const T* v = a.v + (b * T_ + j) * stride + h * D;
          for (std::size_t d = 0; d < D; ++d) o[d] += p[j] * v[d];
        }
        if (a.probs) {
          T* row = a.probs + ((b * a.H + h) * T_ + i) * T_;
          std::copy(p.begin(), p.begin() + static_cast<long>(keys), row);
          std::fill(row + keys, row + T_, T(0));
        }
      }
    }
  }
}
}  // namespace

void attention_forward_cpu(const AttentionArgs<float>& a) {
  attend(a);
}
void attention_forward_cpu(const AttentionArgs<double>& a) {
  attend(a);
}

}  // namespace cugpt::kernels
