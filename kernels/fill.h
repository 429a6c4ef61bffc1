// fill: writes one element's bit pattern n times. Dtype-agnostic: the caller encodes the value
// (kernels/dtype.h store_scalar) and passes the element size (2, 4 or 8 bytes).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/runtime.h"

namespace cugpt::kernels {

void fill_cpu(void* dst, std::size_t n, std::size_t elem_size, std::uint64_t pattern);
void fill_cuda(void* dst, std::size_t n, std::size_t elem_size, std::uint64_t pattern,
               Stream stream);

}  // namespace cugpt::kernels
