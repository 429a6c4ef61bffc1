// softmax over the last dimension of a (rows, cols) matrix, max-subtracted for stability.
#pragma once

#include "kernels/dtype.h"
#include "kernels/runtime.h"

namespace cugpt::kernels {

void softmax_forward_cpu(float* out, const float* x, int rows, int cols);
void softmax_forward_cpu(double* out, const double* x, int rows, int cols);

void softmax_forward_cuda(void* out, const void* x, int rows, int cols, DType dtype, Stream stream);

}  // namespace cugpt::kernels
