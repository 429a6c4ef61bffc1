#include <cmath>
#include <vector>

#include "kernels/adamw.h"
#include "kernels/cpu/threads.h"

namespace cugpt::kernels {

namespace {
// The updates are element-wise: fixed chunks in parallel give the same bits for any thread
// count. The sum of squares keeps one partial per fixed chunk and adds them in chunk order.
template <typename T>
void adamw(T* p, const T* g, float* m, float* v, std::size_t n, const AdamwHyper& h) {
  const double c1 = 1.0 - std::pow(static_cast<double>(h.beta1), static_cast<double>(h.step));
  const double c2 = 1.0 - std::pow(static_cast<double>(h.beta2), static_cast<double>(h.step));
  const auto N = static_cast<std::int64_t>(n);
  parallel_chunks(N, chunk_for(N, 16), [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const double grad = static_cast<double>(g[i]) * h.grad_scale;
      m[i] = static_cast<float>(h.beta1 * m[i] + (1.0 - h.beta1) * grad);
      v[i] = static_cast<float>(h.beta2 * v[i] + (1.0 - h.beta2) * grad * grad);
      const double update = (m[i] / c1) / (std::sqrt(v[i] / c2) + h.eps);
      const double decayed =
          static_cast<double>(p[i]) * (1.0 - static_cast<double>(h.lr) * h.weight_decay);
      p[i] = static_cast<T>(decayed - h.lr * update);
    }
  });
}

template <typename T>
void sgd(T* p, const T* g, float* buf, std::size_t n, float lr, float momentum, float wd,
         float grad_scale) {
  const auto N = static_cast<std::int64_t>(n);
  parallel_chunks(N, chunk_for(N, 4), [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const double grad = static_cast<double>(g[i]) * grad_scale;
      double step = grad;
      if (buf) {
        buf[i] = static_cast<float>(momentum * buf[i] + grad);
        step = buf[i];
      }
      p[i] = static_cast<T>(static_cast<double>(p[i]) * (1.0 - static_cast<double>(lr) * wd) -
                            lr * step);
    }
  });
}

template <typename T>
double squares(const T* x, std::size_t n) {
  const auto N = static_cast<std::int64_t>(n);
  if (N == 0) return 0;
  const std::int64_t chunk = chunk_for(N, 2);
  std::vector<double> partial(static_cast<std::size_t>(chunk_count(N, chunk)), 0.0);
  parallel_chunks(N, chunk, [&](std::int64_t i0, std::int64_t i1) {
    double s = 0;
    for (std::int64_t i = i0; i < i1; ++i) s += static_cast<double>(x[i]) * x[i];
    partial[static_cast<std::size_t>(i0 / chunk)] = s;
  });
  double s = 0;
  for (const double v : partial) s += v;
  return s;
}
}  // namespace

void adamw_step_cpu(float* param, const float* grad, float* m, float* v, std::size_t n,
                    const AdamwHyper& h) {
  adamw(param, grad, m, v, n, h);
}
void adamw_step_cpu(double* param, const double* grad, float* m, float* v, std::size_t n,
                    const AdamwHyper& h) {
  adamw(param, grad, m, v, n, h);
}
void sgd_step_cpu(float* param, const float* grad, float* momentum_buf, std::size_t n, float lr,
                  float momentum, float weight_decay, float grad_scale) {
  sgd(param, grad, momentum_buf, n, lr, momentum, weight_decay, grad_scale);
}
void sgd_step_cpu(double* param, const double* grad, float* momentum_buf, std::size_t n, float lr,
                  float momentum, float weight_decay, float grad_scale) {
  sgd(param, grad, momentum_buf, n, lr, momentum, weight_decay, grad_scale);
}
double sum_squares_cpu(const float* x, std::size_t n) {
  return squares(x, n);
}
double sum_squares_cpu(const double* x, std::size_t n) {
  return squares(x, n);
}

}  // namespace cugpt::kernels
