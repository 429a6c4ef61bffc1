#include <cstring>
#include <string>

#include "kernels/decode_state.h"
#include "kernels/error.h"

namespace cugpt::kernels {

void check_cache_write(const CacheWriteArgs& a) {
  const bool sizes = a.B >= 0 && a.Tq >= 0 && a.C >= 0 && a.t_max >= a.Tq && a.src_col >= 0 &&
                     a.src_col + a.C <= a.src_stride;
  const bool es = a.elem_size == 2 || a.elem_size == 4 || a.elem_size == 8;
  if (!sizes || !es || !a.past || (a.B * a.Tq * a.C > 0 && (!a.src || !a.cache)))
    throw Error("cache_write: " + std::to_string(a.Tq) + " tokens of " + std::to_string(a.C) +
                " elements from a stride of " + std::to_string(a.src_stride) + " into a cache of " +
                std::to_string(a.t_max) + " positions");
}

void cache_write_cpu(const CacheWriteArgs& a) {
  check_cache_write(a);
  const std::int64_t past = *a.past, es = a.elem_size;
  const auto* src = static_cast<const unsigned char*>(a.src);
  auto* cache = static_cast<unsigned char*>(a.cache);
  for (std::int64_t b = 0; b < a.B; ++b)
    for (std::int64_t t = 0; t < a.Tq; ++t) {
      const std::int64_t row = past + t;
      if (row < 0 || row >= a.t_max) continue;
      std::memcpy(cache + ((b * a.t_max + row) * a.C) * es,
                  src + ((b * a.Tq + t) * a.src_stride + a.src_col) * es,
                  static_cast<std::size_t>(a.C * es));
    }
}

void advance_positions_cpu(std::int32_t* positions, int n, int delta) {
  for (int i = 0; i < n; ++i) positions[i] += delta;
}

}  // namespace cugpt::kernels
