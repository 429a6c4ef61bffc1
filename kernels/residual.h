// residual: out = a + b, elementwise. out may alias a or b.
#pragma once

#include "kernels/dtype.h"
#include "kernels/runtime.h"

#include <cstddef>

namespace cugpt::kernels {

void residual_forward_cpu(float* out, const float* a, const float* b, std::size_t n);
void residual_forward_cpu(double* out, const double* a, const double* b, std::size_t n);

void residual_forward_cuda(void* out, const void* a, const void* b, std::size_t n, DType dtype,
                           Stream stream);

}  // namespace cugpt::kernels
