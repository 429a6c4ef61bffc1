// softmax over the last dimension of a (rows, cols) matrix, max-subtracted for stability.
#pragma once

namespace cugpt::kernels {

void softmax_forward_cpu(float* out, const float* x, int rows, int cols);
void softmax_forward_cpu(double* out, const double* x, int rows, int cols);

}  // namespace cugpt::kernels
