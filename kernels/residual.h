// residual: out = a + b, elementwise. out may alias a or b.
#pragma once

#include <cstddef>

namespace cugpt::kernels {

void residual_forward_cpu(float* out, const float* a, const float* b, std::size_t n);
void residual_forward_cpu(double* out, const double* a, const double* b, std::size_t n);

}  // namespace cugpt::kernels
