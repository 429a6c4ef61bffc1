// layernorm over the last dimension: out = (x - mean) * rstd * weight + bias, biased variance.
#pragma once

namespace cugpt::kernels {

// x, out (N, C); weight, bias (C); mean, rstd (N) are written when non-null (for backward).
void layernorm_forward_cpu(float* out, float* mean, float* rstd, const float* x,
                           const float* weight, const float* bias, int N, int C, float eps);
void layernorm_forward_cpu(double* out, double* mean, double* rstd, const double* x,
                           const double* weight, const double* bias, int N, int C, double eps);

}  // namespace cugpt::kernels
