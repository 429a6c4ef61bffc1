// matmul: the product of a Linear layer. out (N, OC) = x (N, IC) · W + bias, where W is stored
// as [OC, IC] (PyTorch Linear; the product uses its transpose) or, with w_in_out, as [IC, OC]
// (GPT-2's Conv1D). bias (OC) may be nullptr.
#pragma once

namespace cugpt::kernels {

void matmul_forward_cpu(float* out, const float* x, const float* w, const float* bias, int N,
                        int IC, int OC, bool w_in_out);
void matmul_forward_cpu(double* out, const double* x, const double* w, const double* bias, int N,
                        int IC, int OC, bool w_in_out);

}  // namespace cugpt::kernels
