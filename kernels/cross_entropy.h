// cross_entropy: softmax + negative log likelihood of logits (N, V) against integer targets,
// fused with its gradient so that no probability matrix exists beside the logits.
#pragma once

#include <cstdint>

#include "kernels/dtype.h"
#include "kernels/runtime.h"

namespace cugpt::kernels {

// Per row, max-subtracted: losses[n] = log(sum(exp(logits[n]))) - logits[n, targets[n]] and
// dlogits[n] = grad_scale * (softmax(logits[n]) - onehot(targets[n])). A row whose target is
// ignore_index gets loss 0 and a zero gradient. losses (N) and dlogits (N, V) may each be
// nullptr; dlogits may alias logits (the gradient overwrites them row by row). A target outside
// [0, V) that is not ignore_index throws cugpt::Error before anything is written.
// ld: the row pitch of logits and dlogits in elements, >= V (0 means V): only the first V
// columns of a row are read or written (the padded logits of kernels/matmul.h).
void cross_entropy_forward_backward_cpu(float* losses, float* dlogits, const float* logits,
                                        const std::int32_t* targets, int N, int V, int ignore_index,
                                        float grad_scale, int ld = 0);
void cross_entropy_forward_backward_cpu(double* losses, double* dlogits, const double* logits,
                                        const std::int32_t* targets, int N, int V, int ignore_index,
                                        double grad_scale, int ld = 0);

// CUDA: one block per row, f32 math (max, sum of exponentials, loss) whatever the dtype of the
// logits; losses (N) are f32 or nullptr, dlogits may alias logits or be nullptr. targets is a
// device array that the caller has validated (ids in [0, V) or ignore_index).
void cross_entropy_forward_backward_cuda(float* losses, void* dlogits, const void* logits,
                                         const std::int32_t* targets, int N, int V,
                                         int ignore_index, float grad_scale, DType dtype,
                                         Stream stream, int ld = 0);

}  // namespace cugpt::kernels
