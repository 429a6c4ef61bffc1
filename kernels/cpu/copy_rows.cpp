#include <cstring>

#include "kernels/copy_rows.h"
#include "kernels/cpu/threads.h"

namespace cugpt::kernels {

void copy_rows_cpu(void* dst, std::size_t dst_pitch, const void* src, std::size_t src_pitch,
                   std::size_t row_bytes, std::size_t rows) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  const auto R = static_cast<std::int64_t>(rows);
  parallel_chunks(R, chunk_for(R, static_cast<double>(row_bytes)),
                  [&](std::int64_t r0, std::int64_t r1) {
                    for (std::int64_t r = r0; r < r1; ++r)
                      std::memcpy(d + r * dst_pitch, s + r * src_pitch, row_bytes);
                  });
}

}  // namespace cugpt::kernels
