// Optimizer updates on CUDA: AdamW and SGD with momentum, the master-weight copy of 16-bit
// parameters, and the sum of squares behind global-norm clipping and the f16 overflow check.
//
// Design.
//  - Updates: elementwise, 256 threads a block, grid-stride; each thread owns the elements it
//    visits (param, grad, m, v, master at the same index), so there is no sharing and no order
//    to fix. f32 math with the CPU twin's formulas (kernels/cpu/adamw.cpp); the bias corrections
//    1 - beta^step are computed once on the host in double. With a master copy the update reads
//    and writes the f32 master and stores it rounded to the parameter dtype; the rounding never
//    feeds back into the next step.
//  - Sum of squares: kSumSquaresBlocks blocks of 256 threads whatever n and the GPU, thread i of
//    block b visiting elements b * 256 + i + k * (blocks * 256); each thread sums its squares
//    in f64 (an f32 square of a large gradient would overflow before the sum does), the block
//    reduces in warp-shuffle then warp order, block b writes partials[b], and one thread adds
//    the partials in block order. A fixed split and order: bit-reproducible on every GPU.
#include <cmath>

#include "kernels/adamw.h"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/convert.cuh"

namespace cugpt::kernels {

namespace {

constexpr int kThreads = 256;

struct AdamwDevice {
  float lr, beta1, beta2, eps, decay, grad_scale;
  float c1, c2;  // 1 - beta1^step, 1 - beta2^step
};

template <typename T>
__global__ void __launch_bounds__(kThreads)
    adamw_kernel(T* param, const T* grad, float* m, float* v, float* master, std::size_t n,
                 AdamwDevice h) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * kThreads;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
       i += stride) {
    const float g = to_f32(grad[i]) * h.grad_scale;
    const float mi = h.beta1 * m[i] + (1.f - h.beta1) * g;
    const float vi = h.beta2 * v[i] + (1.f - h.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const float update = (mi / h.c1) / (sqrtf(vi / h.c2) + h.eps);
    const float p =
        (master ? master[i] : to_f32(param[i])) * (1.f - h.lr * h.decay) - h.lr * update;
    if (master) master[i] = p;
    param[i] = from_f32<T>(p);
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    sgd_kernel(T* param, const T* grad, float* buf, float* master, std::size_t n, float lr,
               float momentum, float decay, float grad_scale) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * kThreads;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
       i += stride) {
    const float g = to_f32(grad[i]) * grad_scale;
    float step = g;
    if (buf) {
      step = momentum * buf[i] + g;
      buf[i] = step;
    }
    const float p = (master ? master[i] : to_f32(param[i])) * (1.f - lr * decay) - lr * step;
    if (master) master[i] = p;
    param[i] = from_f32<T>(p);
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    to_master_kernel(float* master, const T* param, std::size_t n) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * kThreads;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
       i += stride)
    master[i] = to_f32(param[i]);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    squares_kernel(const T* x, std::size_t n, double* partials) {
  __shared__ double warp_sums[kThreads / 32];
  const std::size_t stride = static_cast<std::size_t>(kSumSquaresBlocks) * kThreads;
  double s = 0.0;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
       i += stride) {
    const double v = to_f32(x[i]);
    s += v * v;
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = s;
  __syncthreads();
  if (threadIdx.x != 0) return;
  double total = 0.0;
  for (int w = 0; w < kThreads / 32; ++w) total += warp_sums[w];
  partials[blockIdx.x] = total;
}

__global__ void finish_squares_kernel(const double* partials, double* out) {
  double total = 0.0;
  for (int b = 0; b < kSumSquaresBlocks; ++b) total += partials[b];
  *out = total;
}

}  // namespace

void adamw_step_cuda(void* param, const void* grad, float* m, float* v, float* master,
                     std::size_t n, const AdamwHyper& h, DType dtype, Stream stream) {
  dispatch_dtype("adamw", dtype, [&](auto zero) {
    using T = decltype(zero);
    if (n == 0) return;
    CUGPT_CHECK(param && grad && m && v, "adamw: null pointer");
    CUGPT_CHECK(h.step >= 1, "adamw: the step count starts at 1");
    AdamwDevice d;
    d.lr = h.lr;
    d.beta1 = h.beta1;
    d.beta2 = h.beta2;
    d.eps = h.eps;
    d.decay = h.weight_decay;
    d.grad_scale = h.grad_scale;
    d.c1 = static_cast<float>(1.0 -
                              std::pow(static_cast<double>(h.beta1), static_cast<double>(h.step)));
    d.c2 = static_cast<float>(1.0 -
                              std::pow(static_cast<double>(h.beta2), static_cast<double>(h.step)));
    adamw_kernel<T><<<grid_for(n, kThreads), kThreads, 0, stream>>>(
        static_cast<T*>(param), static_cast<const T*>(grad), m, v, master, n, d);
    CUDA_LAUNCH_CHECK();
  });
}

void sgd_step_cuda(void* param, const void* grad, float* momentum_buf, float* master, std::size_t n,
                   float lr, float momentum, float weight_decay, float grad_scale, DType dtype,
                   Stream stream) {
  dispatch_dtype("sgd", dtype, [&](auto zero) {
    using T = decltype(zero);
    if (n == 0) return;
    CUGPT_CHECK(param && grad, "sgd: null pointer");
    sgd_kernel<T><<<grid_for(n, kThreads), kThreads, 0, stream>>>(
        static_cast<T*>(param), static_cast<const T*>(grad), momentum_buf, master, n, lr, momentum,
        weight_decay, grad_scale);
    CUDA_LAUNCH_CHECK();
  });
}

void copy_to_master_cuda(float* master, const void* param, std::size_t n, DType dtype,
                         Stream stream) {
  dispatch_dtype("copy_to_master", dtype, [&](auto zero) {
    using T = decltype(zero);
    if (n == 0) return;
    CUGPT_CHECK(master && param, "copy_to_master: null pointer");
    to_master_kernel<T>
        <<<grid_for(n, kThreads), kThreads, 0, stream>>>(master, static_cast<const T*>(param), n);
    CUDA_LAUNCH_CHECK();
  });
}

void sum_squares_cuda(const void* x, std::size_t n, DType dtype, double* out, double* partials,
                      Stream stream) {
  dispatch_dtype("sum_squares", dtype, [&](auto zero) {
    using T = decltype(zero);
    CUGPT_CHECK(out && partials && (n == 0 || x), "sum_squares: null pointer");
    squares_kernel<T>
        <<<kSumSquaresBlocks, kThreads, 0, stream>>>(static_cast<const T*>(x), n, partials);
    CUDA_LAUNCH_CHECK();
    finish_squares_kernel<<<1, 1, 0, stream>>>(partials, out);
    CUDA_LAUNCH_CHECK();
  });
}

}  // namespace cugpt::kernels
