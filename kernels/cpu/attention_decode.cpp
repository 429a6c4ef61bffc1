#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/attention_decode.h"
#include "kernels/cpu/threads.h"
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
  // (batch, head) pairs in parallel, a few per chunk when the context is short: each writes
  // only its own head's columns of out.
  const std::int64_t pairs = static_cast<std::int64_t>(a.B) * a.H;
  const double cost = 4.0 * static_cast<double>(a.past + a.Tq) * a.Tq * a.D;
  parallel_chunks(pairs, chunk_for(pairs, cost), [&](std::int64_t bh0, std::int64_t bh1) {
    std::vector<T> p(static_cast<std::size_t>(a.past + a.Tq));
    for (std::int64_t bh = bh0; bh < bh1; ++bh) {
      const std::size_t b = static_cast<std::size_t>(bh / a.H),
                        h = static_cast<std::size_t>(bh % a.H);
      for (std::size_t i = 0; i < static_cast<std::size_t>(a.Tq); ++i) {
        const std::size_t keys = static_cast<std::size_t>(a.past) + i + 1;  // causal
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
  });
}
}  // namespace

void attention_decode_cpu(const DecodeArgs<float>& a) {
  decode(a);
}
void attention_decode_cpu(const DecodeArgs<double>& a) {
  decode(a);
}

}  // namespace cugpt::kernels
