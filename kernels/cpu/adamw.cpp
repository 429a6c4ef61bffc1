#include <cmath>
#include <vector>

#include "kernels/adamw.h"
#include "kernels/cpu/threads.h"
#include "kernels/error.h"

namespace cugpt::kernels {

namespace {
// The updates are element-wise: fixed chunks in parallel give the same bits for any thread
// count. The sum of squares keeps one partial per fixed chunk and adds them in chunk order.
//
// Each update reads element i of the gradient through grad(i) and of the weight through
// weight(i) (as double), and hands the new weight to store(i, x): for f32 and f64 parameters
// the parameter itself, for 16-bit ones the f32 master, rounded into the parameter as well.
template <typename G, typename W, typename S>
void adamw(std::size_t n, const AdamwHyper& h, float* m, float* v, G grad, W weight, S store) {
  const double c1 = 1.0 - std::pow(static_cast<double>(h.beta1), static_cast<double>(h.step));
  const double c2 = 1.0 - std::pow(static_cast<double>(h.beta2), static_cast<double>(h.step));
  const auto N = static_cast<std::int64_t>(n);
  parallel_chunks(N, chunk_for(N, 16), [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const double g = grad(i) * h.grad_scale;
      m[i] = static_cast<float>(h.beta1 * m[i] + (1.0 - h.beta1) * g);
      v[i] = static_cast<float>(h.beta2 * v[i] + (1.0 - h.beta2) * g * g);
      const double update = (m[i] / c1) / (std::sqrt(v[i] / c2) + h.eps);
      const double decayed = weight(i) * (1.0 - static_cast<double>(h.lr) * h.weight_decay);
      store(i, decayed - h.lr * update);
    }
  });
}

template <typename G, typename W, typename S>
void sgd(std::size_t n, float* buf, float lr, float momentum, float wd, float grad_scale, G grad,
         W weight, S store) {
  const auto N = static_cast<std::int64_t>(n);
  parallel_chunks(N, chunk_for(N, 4), [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const double g = grad(i) * grad_scale;
      double step = g;
      if (buf) {
        buf[i] = static_cast<float>(momentum * buf[i] + g);
        step = buf[i];
      }
      store(i, weight(i) * (1.0 - static_cast<double>(lr) * wd) - lr * step);
    }
  });
}

template <typename R>
double squares(std::size_t n, R read) {
  const auto N = static_cast<std::int64_t>(n);
  if (N == 0) return 0;
  const std::int64_t chunk = chunk_for(N, 2);
  std::vector<double> partial(static_cast<std::size_t>(chunk_count(N, chunk)), 0.0);
  parallel_chunks(N, chunk, [&](std::int64_t i0, std::int64_t i1) {
    double s = 0;
    for (std::int64_t i = i0; i < i1; ++i) {
      const double x = read(i);
      s += x * x;
    }
    partial[static_cast<std::size_t>(i0 / chunk)] = s;
  });
  double s = 0;
  for (const double v : partial) s += v;
  return s;
}

// 16-bit parameters through f32 masters: the CUDA kernels' f32 arithmetic, in their order
// (kernels/cuda/adamw.cu), so that offload's host update computes what the card's would. The
// element conversions inline for bf16 (the loops then vectorise), through the library for f16.
void check_16bit(DType dtype) {
  if (dtype != DType::bf16 && dtype != DType::f16)
    throw Error(std::string("optimizer: 16-bit parameters are bf16 or f16, not ") +
                dtype_name(dtype));
}
struct Bf16 {
  static float widen(std::uint16_t b) { return bf16_bits_to_float(b); }
  static std::uint16_t narrow(float x) { return float_to_bf16_bits(x); }
};
struct F16 {
  static float widen(std::uint16_t b) { return f16_bits_to_float(b); }
  static std::uint16_t narrow(float x) { return float_to_f16_bits(x); }
};

template <typename C>
void adamw_16bit(std::uint16_t* p, const std::uint16_t* g, float* m, float* v, float* master,
                 std::size_t n, const AdamwHyper& h) {
  // Locals, captured by value: the loop vectorises only when no store could change them.
  const auto c1 =
      static_cast<float>(1.0 - std::pow(static_cast<double>(h.beta1), static_cast<double>(h.step)));
  const auto c2 =
      static_cast<float>(1.0 - std::pow(static_cast<double>(h.beta2), static_cast<double>(h.step)));
  const float decay = 1.f - h.lr * h.weight_decay, lr = h.lr, eps = h.eps;
  const float beta1 = h.beta1, beta2 = h.beta2, scale = h.grad_scale;
  const auto N = static_cast<std::int64_t>(n);
  parallel_chunks(N, chunk_for(N, 16), [=](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const float gi = C::widen(g[i]) * scale;
      const float mi = beta1 * m[i] + (1.f - beta1) * gi;
      const float vi = beta2 * v[i] + (1.f - beta2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      const float update = (mi / c1) / (std::sqrt(vi / c2) + eps);
      const float w = master[i] * decay - lr * update;
      master[i] = w;
      p[i] = C::narrow(w);
    }
  });
}

template <typename C>
void sgd_16bit(std::uint16_t* p, const std::uint16_t* g, float* buf, float* master, std::size_t n,
               float lr, float momentum, float wd, float grad_scale) {
  const auto N = static_cast<std::int64_t>(n);
  parallel_chunks(N, chunk_for(N, 4), [=](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const float gi = C::widen(g[i]) * grad_scale;
      float step = gi;
      if (buf) {
        step = momentum * buf[i] + gi;
        buf[i] = step;
      }
      const float w = master[i] * (1.f - lr * wd) - lr * step;
      master[i] = w;
      p[i] = C::narrow(w);
    }
  });
}

template <typename T>
void adamw_direct(T* p, const T* g, float* m, float* v, std::size_t n, const AdamwHyper& h) {
  adamw(
      n, h, m, v, [&](std::int64_t i) { return static_cast<double>(g[i]); },
      [&](std::int64_t i) { return static_cast<double>(p[i]); },
      [&](std::int64_t i, double x) { p[i] = static_cast<T>(x); });
}

template <typename T>
void sgd_direct(T* p, const T* g, float* buf, std::size_t n, float lr, float momentum, float wd,
                float grad_scale) {
  sgd(
      n, buf, lr, momentum, wd, grad_scale,
      [&](std::int64_t i) { return static_cast<double>(g[i]); },
      [&](std::int64_t i) { return static_cast<double>(p[i]); },
      [&](std::int64_t i, double x) { p[i] = static_cast<T>(x); });
}
}  // namespace

void adamw_step_cpu(float* param, const float* grad, float* m, float* v, std::size_t n,
                    const AdamwHyper& h) {
  adamw_direct(param, grad, m, v, n, h);
}
void adamw_step_cpu(double* param, const double* grad, float* m, float* v, std::size_t n,
                    const AdamwHyper& h) {
  adamw_direct(param, grad, m, v, n, h);
}
void sgd_step_cpu(float* param, const float* grad, float* momentum_buf, std::size_t n, float lr,
                  float momentum, float weight_decay, float grad_scale) {
  sgd_direct(param, grad, momentum_buf, n, lr, momentum, weight_decay, grad_scale);
}
void sgd_step_cpu(double* param, const double* grad, float* momentum_buf, std::size_t n, float lr,
                  float momentum, float weight_decay, float grad_scale) {
  sgd_direct(param, grad, momentum_buf, n, lr, momentum, weight_decay, grad_scale);
}
double sum_squares_cpu(const float* x, std::size_t n) {
  return squares(n, [&](std::int64_t i) { return static_cast<double>(x[i]); });
}
double sum_squares_cpu(const double* x, std::size_t n) {
  return squares(n, [&](std::int64_t i) { return x[i]; });
}

void adamw_step_cpu(std::uint16_t* param, const std::uint16_t* grad, float* m, float* v,
                    float* master, std::size_t n, const AdamwHyper& h, DType dtype) {
  check_16bit(dtype);
  if (dtype == DType::bf16)
    adamw_16bit<Bf16>(param, grad, m, v, master, n, h);
  else
    adamw_16bit<F16>(param, grad, m, v, master, n, h);
}

void sgd_step_cpu(std::uint16_t* param, const std::uint16_t* grad, float* momentum_buf,
                  float* master, std::size_t n, float lr, float momentum, float weight_decay,
                  float grad_scale, DType dtype) {
  check_16bit(dtype);
  if (dtype == DType::bf16)
    sgd_16bit<Bf16>(param, grad, momentum_buf, master, n, lr, momentum, weight_decay, grad_scale);
  else
    sgd_16bit<F16>(param, grad, momentum_buf, master, n, lr, momentum, weight_decay, grad_scale);
}

void copy_to_master_cpu(float* master, const std::uint16_t* param, std::size_t n, DType dtype) {
  check_16bit(dtype);
  const bool bf = dtype == DType::bf16;
  const auto N = static_cast<std::int64_t>(n);
  parallel_chunks(N, chunk_for(N, 1), [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i)
      master[i] = bf ? Bf16::widen(param[i]) : F16::widen(param[i]);
  });
}

double sum_squares_cpu(const std::uint16_t* x, std::size_t n, DType dtype) {
  check_16bit(dtype);
  if (dtype == DType::bf16)
    return squares(n, [&](std::int64_t i) { return static_cast<double>(Bf16::widen(x[i])); });
  return squares(n, [&](std::int64_t i) { return static_cast<double>(F16::widen(x[i])); });
}

}  // namespace cugpt::kernels
