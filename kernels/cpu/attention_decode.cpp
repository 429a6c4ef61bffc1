#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/attention_decode.h"
#include "kernels/error.h"

namespace cugpt::kernels {

namespace {
template <typename T>
void decode(const DecodeArgs<T>& a) {
  CUGPT_CHECK(a.B >= 0 && a.Tq >= 0 && a.past >= 0 && a.H > 0 && a.D > 0 &&
                  a.past + a.Tq <= a.t_max && a.q_stride >= a.H * a.D,
              "attention_decode: bad sizes");
  const std::size_t D = static_cast<std::size_t>(a.D), C = static_cast<std::size_t>(a.H) * D;
  const std::size_t t_max = static_cast<std::size_t>(a.t_max);
  std::vector<T> p(static_cast<std::size_t>(a.past + a.Tq));
  for (std::size_t b = 0; b < static_cast<std::size_t>(a.B); ++b) {
    for (std::size_t i = 0; i < static_cast<std::size_t>(a.Tq); ++i) {
      const std::size_t keys = static_cast<std::size_t>(a.past) + i + 1;  // causal
      for (std::size_t h = 0; h < static_cast<std::size_t>(a.H); ++h) {
        const T* q = a.q + (b * a.Tq + i) * a.q_stride + h * D;
        T mx = -INFINITY;
        for (std::size_t j = 0; j < keys; ++j) {
          const T* k = a.k_cache + (b * t_max + j) * C + h * D;
          T s = 0;
          for (std::size_t d = 0; d < D; ++d) s += q[d] * k[d];
          p[j] = s * a.scale;
          mx = std::max(mx, p[j]);
        }
        T sum = 0;
        for (std::size_t j = 0; j < keys; ++j) sum += p[j] = std::exp(p[j] - mx);
        T* o = a.out + (b * a.Tq + i) * C + h * D;
        std::fill(o, o + D, T(0));
        for (std::size_t j = 0; j < keys; ++j) {
          const T w = p[j] / sum;
          const T* v = a.v_cache + (b * t_max + j) * C + h * D;
          for (std::size_t d = 0; d < D; ++d) o[d] += w * v[d];
        }
      }
    }
  }
}
}  // namespace

void attention_decode_cpu(const DecodeArgs<float>& a) {
  decode(a);
}
void attention_decode_cpu(const DecodeArgs<double>& a) {
  decode(a);
}

}  // namespace cugpt::kernels
