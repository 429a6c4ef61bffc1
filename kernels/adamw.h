// adamw: one AdamW update of a parameter tensor (Loshchilov & Hutter: the weight decay is
// applied to the weights directly, not through the gradient). m and v are f32 states; the
// gradient is multiplied by grad_scale first (gradient clipping, loss-scale removal).
#pragma once

#include <cstddef>

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

}  // namespace cugpt::kernels
