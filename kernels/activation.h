// activation: elementwise ReLU, GELU with the tanh approximation (GPT-2's "gelu_new"), or exact
// GELU with erf (BERT/RoBERTa's "gelu").
#pragma once

#include <cstddef>

#include "kernels/dtype.h"
#include "kernels/runtime.h"

namespace cugpt::kernels {

enum class Activation { relu, gelu_tanh, gelu_erf };

// out and x may alias (in place).
void activation_forward_cpu(float* out, const float* x, std::size_t n, Activation act);
void activation_forward_cpu(double* out, const double* x, std::size_t n, Activation act);

// backward (cpu): dx = dout * act'(x), x being the activation's input; dx may alias dout.
void activation_backward_cpu(float* dx, const float* dout, const float* x, std::size_t n,
                             Activation act);
void activation_backward_cpu(double* dx, const double* dout, const double* x, std::size_t n,
                             Activation act);

void activation_forward_cuda(void* out, const void* x, std::size_t n, Activation act, DType dtype,
                             Stream stream);

// CUDA backward: dx = dout * act'(x) in f32 with the CPU twin's formulas, rounded once; dx may
// alias dout. f32, bf16 or f16.
void activation_backward_cuda(void* dx, const void* dout, const void* x, std::size_t n,
                              Activation act, DType dtype, Stream stream);

}  // namespace cugpt::kernels
