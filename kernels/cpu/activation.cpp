#include <cmath>

#include "kernels/activation.h"
#include "kernels/cpu/threads.h"

namespace cugpt::kernels {

namespace {
template <typename T>
void activate_range(T* out, const T* x, std::size_t n, Activation act) {
  switch (act) {
    case Activation::relu:
      for (std::size_t i = 0; i < n; ++i) out[i] = x[i] > T(0) ? x[i] : T(0);
      return;
    case Activation::gelu_tanh: {
      const T k = static_cast<T>(0.7978845608028654);  // sqrt(2 / pi)
      for (std::size_t i = 0; i < n; ++i) {
        const T v = x[i];
        out[i] = T(0.5) * v * (T(1) + std::tanh(k * (v + T(0.044715) * v * v * v)));
      }
      return;
    }
    case Activation::gelu_erf: {
      const T k = static_cast<T>(0.7071067811865476);  // 1 / sqrt(2)
      for (std::size_t i = 0; i < n; ++i) out[i] = T(0.5) * x[i] * (T(1) + std::erf(x[i] * k));
      return;
    }
  }
}

// Element-wise, so any split gives the same bits: fixed chunks, in parallel.
template <typename T>
void activate(T* out, const T* x, std::size_t n, Activation act) {
  const double cost = act == Activation::relu ? 1 : 24;
  parallel_chunks(static_cast<std::int64_t>(n), chunk_for(static_cast<std::int64_t>(n), cost),
                  [&](std::int64_t i0, std::int64_t i1) {
                    activate_range(out + i0, x + i0, static_cast<std::size_t>(i1 - i0), act);
                  });
}
}  // namespace

void activation_forward_cpu(float* out, const float* x, std::size_t n, Activation act) {
  activate(out, x, n, act);
}

void activation_forward_cpu(double* out, const double* x, std::size_t n, Activation act) {
  activate(out, x, n, act);
}

}  // namespace cugpt::kernels
