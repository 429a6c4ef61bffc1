#include <cstring>

#include "kernels/copy_rows.h"

namespace cugpt::kernels {

void copy_rows_cpu(void* dst, std::size_t dst_pitch, const void* src, std::size_t src_pitch,
                   std::size_t row_bytes, std::size_t rows) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  for (std::size_t r = 0; r < rows; ++r)
    std::memcpy(d + r * dst_pitch, s + r * src_pitch, row_bytes);
}

}  // namespace cugpt::kernels
