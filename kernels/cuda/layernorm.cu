#include "kernels/cuda/check.cuh"
#include "kernels/cuda/convert.cuh"
#include "kernels/cuda/reduce.cuh"
#include "kernels/layernorm.h"

namespace cugpt::kernels {

namespace {

constexpr int kThreads = 256;

// One block per row. The mean, then the variance from the mean (two reductions rather than
// E[x^2] - E[x]^2, which cancels badly for rows with a large mean); every thread revisits the
// same columns in each pass, so with a residual it re-reads the sums it wrote itself.
template <typename T>
__global__ void layernorm_kernel(T* out, float* mean_out, float* rstd_out, const T* x, const T* r,
                                 T* sum_out, const T* weight, const T* bias, int C, float eps) {
  const std::size_t row = blockIdx.x;
  const T* xr = x + row * C;
  const T* rr = r ? r + row * C : nullptr;
  T* sr = sum_out ? sum_out + row * C : nullptr;
  float s = 0.f;
  for (int c = threadIdx.x; c < C; c += kThreads) {
    float v = to_f32(xr[c]);
    if (rr) {
      const T rounded = from_f32<T>(v + to_f32(rr[c]));  // the residual stream is stored in T
      sr[c] = rounded;
      v = to_f32(rounded);
    }
    s += v;
  }
  const T* src = sr ? sr : xr;
  const float mean = block_sum<kThreads>(s) / static_cast<float>(C);
  float q = 0.f;
  for (int c = threadIdx.x; c < C; c += kThreads) {
    const float d = to_f32(src[c]) - mean;
    q += d * d;
  }
  const float rstd = rsqrtf(block_sum<kThreads>(q) / static_cast<float>(C) + eps);
  T* o = out + row * C;
  for (int c = threadIdx.x; c < C; c += kThreads)
    o[c] = from_f32<T>((to_f32(src[c]) - mean) * rstd * to_f32(weight[c]) + to_f32(bias[c]));
  if (threadIdx.x == 0) {
    if (mean_out) mean_out[row] = mean;
    if (rstd_out) rstd_out[row] = rstd;
  }
}

void launch(void* sum, void* out, float* mean, float* rstd, const void* x, const void* r,
            const void* weight, const void* bias, int N, int C, float eps, DType dtype,
            Stream stream) {
  if (N < 0 || C <= 0) throw Error("layernorm: bad sizes");
  dispatch_dtype("layernorm", dtype, [&](auto zero) {
    using T = decltype(zero);
    if (N == 0) return;
    layernorm_kernel<T><<<static_cast<unsigned>(N), kThreads, 0, stream>>>(
        static_cast<T*>(out), mean, rstd, static_cast<const T*>(x), static_cast<const T*>(r),
        static_cast<T*>(sum), static_cast<const T*>(weight), static_cast<const T*>(bias), C, eps);
    CUDA_LAUNCH_CHECK();
  });
}

}  // namespace

void layernorm_forward_cuda(void* out, float* mean, float* rstd, const void* x, const void* weight,
                            const void* bias, int N, int C, float eps, DType dtype, Stream stream) {
  launch(nullptr, out, mean, rstd, x, nullptr, weight, bias, N, C, eps, dtype, stream);
}

void layernorm_residual_forward_cuda(void* sum, void* out, float* mean, float* rstd, const void* x,
                                     const void* r, const void* weight, const void* bias, int N,
                                     int C, float eps, DType dtype, Stream stream) {
  if (!sum || !r) throw Error("layernorm_residual: sum and residual are required");
  launch(sum, out, mean, rstd, x, r, weight, bias, N, C, eps, dtype, stream);
}

}  // namespace cugpt::kernels
