// adamw: one AdamW update of a parameter tensor (Loshchilov & Hutter: the weight decay is
// applied to the weights directly, not through the gradient). m and v are f32 states; the
// gradient is multiplied by grad_scale first (gradient clipping, loss-scale removal).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/dtype.h"
#include "kernels/runtime.h"

namespace cugpt::kernels {

struct AdamwHyper {
  float lr = 3e-4f;
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;  // already 0 for tensors that are not decayed
  float grad_scale = 1.0f;
  long step = 1;  // 1-based, for the bias corrections
};

void adamw_step_cpu(float* param, const float* grad, float* m, float* v, std::size_t n,
                    const AdamwHyper& h);
void adamw_step_cpu(double* param, const double* grad, float* m, float* v, std::size_t n,
                    const AdamwHyper& h);

// SGD with momentum (PyTorch's form: buf = momentum * buf + g; p -= lr * (buf or g)), with the
// same decoupled weight decay, so reports can compare optimizers' bytes on equal terms.
void sgd_step_cpu(float* param, const float* grad, float* momentum_buf, std::size_t n, float lr,
                  float momentum, float weight_decay, float grad_scale);
void sgd_step_cpu(double* param, const double* grad, float* momentum_buf, std::size_t n, float lr,
                  float momentum, float weight_decay, float grad_scale);

// Sum of squares of a gradient, in double, for global-norm clipping.
double sum_squares_cpu(const float* x, std::size_t n);
double sum_squares_cpu(const double* x, std::size_t n);

// 16-bit parameters on the host (bf16 or f16 bits, `dtype`), as the CUDA updates below treat
// them: the update reads and writes the f32 master copy, in the f32 kernels' arithmetic, and
// stores it rounded into param; the gradient is widened first. The host half of optimizer
// offload (train/offload.h), where the parameters a card computes with are 16-bit.
void adamw_step_cpu(std::uint16_t* param, const std::uint16_t* grad, float* m, float* v,
                    float* master, std::size_t n, const AdamwHyper& h, DType dtype);
void sgd_step_cpu(std::uint16_t* param, const std::uint16_t* grad, float* momentum_buf,
                  float* master, std::size_t n, float lr, float momentum, float weight_decay,
                  float grad_scale, DType dtype);
void copy_to_master_cpu(float* master, const std::uint16_t* param, std::size_t n, DType dtype);
double sum_squares_cpu(const std::uint16_t* x, std::size_t n, DType dtype);

// CUDA updates, f32 math, parameters f32, bf16 or f16 (gradients in the parameter dtype). With
// `master` (f32, n), the update reads and writes the master copy and stores it rounded into
// param; without it, param is read and written directly (f32 parameters).
void adamw_step_cuda(void* param, const void* grad, float* m, float* v, float* master,
                     std::size_t n, const AdamwHyper& h, DType dtype, Stream stream);
void sgd_step_cuda(void* param, const void* grad, float* momentum_buf, float* master, std::size_t n,
                   float lr, float momentum, float weight_decay, float grad_scale, DType dtype,
                   Stream stream);
// master = param, widened to f32 (the master copy of 16-bit parameters).
void copy_to_master_cuda(float* master, const void* param, std::size_t n, DType dtype,
                         Stream stream);

// Sum of squares on CUDA into *out (device): kSumSquaresBlocks fixed blocks write partial sums
// (f64) into `partials` (device, kSumSquaresBlocks doubles), then one thread adds them in order.
// The split does not depend on the GPU, so the result is bit-reproducible everywhere. A
// non-finite element makes the sum non-finite (the f16 overflow check).
constexpr int kSumSquaresBlocks = 256;
void sum_squares_cuda(const void* x, std::size_t n, DType dtype, double* out, double* partials,
                      Stream stream);

}  // namespace cugpt::kernels
