// copy_rows: a strided 2-D copy, rows of `row_bytes` from src (pitch src_pitch) to dst (pitch
// dst_pitch). Writes a new token's k and v, read in place from a fused QKV buffer, into the
// KV cache without a staging buffer.
#pragma once

#include <cstddef>

#include "kernels/runtime.h"

namespace cugpt::kernels {

void copy_rows_cpu(void* dst, std::size_t dst_pitch, const void* src, std::size_t src_pitch,
                   std::size_t row_bytes, std::size_t rows);
void copy_rows_cuda(void* dst, std::size_t dst_pitch, const void* src, std::size_t src_pitch,
                    std::size_t row_bytes, std::size_t rows, Stream stream);

}  // namespace cugpt::kernels
