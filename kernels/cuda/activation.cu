#include <algorithm>

#include "kernels/activation.h"
#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/vec.cuh"

namespace cugpt::kernels {

namespace {

constexpr int kThreads = 256;

// Grid-stride over packs of kVec elements, then the n % kVec left at the end one each by the
// first threads. In place (out == x) is safe: each element is read by the thread that writes it.
template <typename T, int kVec>
__global__ void __launch_bounds__(kThreads)
    activation_kernel(T* out, const T* x, std::size_t n, Activation act) {
  const std::size_t packs = n / kVec;
  const std::size_t tid = static_cast<std::size_t>(blockIdx.x) * kThreads + threadIdx.x;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * kThreads;
  for (std::size_t p = tid; p < packs; p += stride) {
    float v[kVec];
    load_vec(v, x + p * kVec);
#pragma unroll
    for (int k = 0; k < kVec; ++k) v[k] = activate(v[k], act);
    store_vec(out + p * kVec, v);
  }
  const std::size_t i = packs * kVec + tid;
  if (i < n) out[i] = from_f32<T>(activate(to_f32(x[i]), act));
}

}  // namespace

void activation_forward_cuda(void* out, const void* x, std::size_t n, Activation act, DType dtype,
                             Stream stream) {
  dispatch_dtype("activation", dtype, [&](auto zero) {
    using T = decltype(zero);
    if (n == 0) return;
    dispatch_vec<T>(aligned16(out) && aligned16(x), [&](auto vec) {
      constexpr int kVec = decltype(vec)::value;
      activation_kernel<T, kVec>
          <<<grid_for(std::max<std::size_t>(n / kVec, 1), kThreads), kThreads, 0, stream>>>(
              static_cast<T*>(out), static_cast<const T*>(x), n, act);
      CUDA_LAUNCH_CHECK();
    });
  });
}

}  // namespace cugpt::kernels
