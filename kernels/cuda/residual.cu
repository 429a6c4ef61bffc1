#include <algorithm>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/vec.cuh"
#include "kernels/residual.h"

namespace cugpt::kernels {

namespace {

constexpr int kThreads = 256;

// Grid-stride over packs of kVec elements, then the n % kVec left at the end one each by the
// first threads. out may alias a or b: every element is read before it is written, by the thread
// that writes it.
template <typename T, int kVec>
__global__ void __launch_bounds__(kThreads)
    residual_kernel(T* out, const T* a, const T* b, std::size_t n) {
  const std::size_t packs = n / kVec;
  const std::size_t tid = static_cast<std::size_t>(blockIdx.x) * kThreads + threadIdx.x;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * kThreads;
  for (std::size_t p = tid; p < packs; p += stride) {
    float x[kVec], y[kVec];
    load_vec(x, a + p * kVec);
    load_vec(y, b + p * kVec);
#pragma unroll
    for (int k = 0; k < kVec; ++k) x[k] += y[k];
    store_vec(out + p * kVec, x);
  }
  const std::size_t i = packs * kVec + tid;
  if (i < n) out[i] = from_f32<T>(to_f32(a[i]) + to_f32(b[i]));
}

}  // namespace

void residual_forward_cuda(void* out, const void* a, const void* b, std::size_t n, DType dtype,
                           Stream stream) {
  dispatch_dtype("residual", dtype, [&](auto zero) {
    using T = decltype(zero);
    if (n == 0) return;
    const bool vectorise = aligned16(out) && aligned16(a) && aligned16(b);
    dispatch_vec<T>(vectorise, [&](auto vec) {
      constexpr int kVec = decltype(vec)::value;
      residual_kernel<T, kVec>
          <<<grid_for(std::max<std::size_t>(n / kVec, 1), kThreads), kThreads, 0, stream>>>(
              static_cast<T*>(out), static_cast<const T*>(a), static_cast<const T*>(b), n);
      CUDA_LAUNCH_CHECK();
    });
  });
}

}  // namespace cugpt::kernels
