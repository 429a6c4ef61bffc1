#include <cmath>

#include "kernels/activation.h"
#include "kernels/cpu/threads.h"

namespace cugpt::kernels {

namespace {
// The exact derivatives of the forward formulas in cpu/activation.cpp. Each dout[i] is read
// before dx[i] is written, so dx may alias dout.
template <typename T>
void backward_range(T* dx, const T* dout, const T* x, std::size_t n, Activation act) {
  switch (act) {
    case Activation::relu:
      for (std::size_t i = 0; i < n; ++i) dx[i] = x[i] > T(0) ? dout[i] : T(0);
      return;
    case Activation::gelu_tanh: {
      // f = x/2 (1 + tanh(u)), u = k (x + a x^3): f' = (1 + t)/2 + x/2 (1 - t^2) k (1 + 3 a x^2)
      const T k = static_cast<T>(0.7978845608028654);  // sqrt(2 / pi)
      const T a = static_cast<T>(0.044715);
      for (std::size_t i = 0; i < n; ++i) {
        const T v = x[i];
        const T t = std::tanh(k * (v + a * v * v * v));
        const T du = k * (T(1) + T(3) * a * v * v);
        dx[i] = dout[i] * (T(0.5) * (T(1) + t) + T(0.5) * v * (T(1) - t * t) * du);
      }
      return;
    }
    case Activation::gelu_erf: {
      // f = x Phi(x): f' = Phi(x) + x phi(x), phi the standard normal density.
      const T k = static_cast<T>(0.7071067811865476);  // 1 / sqrt(2)
      const T c = static_cast<T>(0.3989422804014327);  // 1 / sqrt(2 pi)
      for (std::size_t i = 0; i < n; ++i) {
        const T v = x[i];
        const T cdf = T(0.5) * (T(1) + std::erf(v * k));
        dx[i] = dout[i] * (cdf + v * c * std::exp(T(-0.5) * v * v));
      }
      return;
    }
  }
}

// Element-wise: fixed chunks in parallel, the same bits for any thread count.
template <typename T>
void activate_backward(T* dx, const T* dout, const T* x, std::size_t n, Activation act) {
  const double cost = act == Activation::relu ? 1 : 32;
  parallel_chunks(static_cast<std::int64_t>(n), chunk_for(static_cast<std::int64_t>(n), cost),
                  [&](std::int64_t i0, std::int64_t i1) {
                    backward_range(dx + i0, dout + i0, x + i0, static_cast<std::size_t>(i1 - i0),
                                   act);
                  });
}
}  // namespace

void activation_backward_cpu(float* dx, const float* dout, const float* x, std::size_t n,
                             Activation act) {
  activate_backward(dx, dout, x, n, act);
}

void activation_backward_cpu(double* dx, const double* dout, const double* x, std::size_t n,
                             Activation act) {
  activate_backward(dx, dout, x, n, act);
}

}  // namespace cugpt::kernels
