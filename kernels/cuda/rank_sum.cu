#include "kernels/cuda/check.cuh"
#include "kernels/cuda/convert.cuh"
#include "kernels/rank_sum.h"

namespace cugpt::kernels {

namespace {

// The element as the sum keeps it: f64 as it is, the others through convert.cuh's to_f32 (the
// 16-bit types widened).
template <typename T>
__device__ __forceinline__ float to_acc(T x) {
  return to_f32(x);
}
__device__ __forceinline__ double to_acc(double x) {
  return x;
}
template <typename T, typename Acc>
__device__ __forceinline__ T from_acc(Acc x) {
  return from_f32<T>(x);
}
template <>
__device__ __forceinline__ double from_acc<double, double>(double x) {
  return x;
}

// One thread per element (grid-stride): its n copies added in rank order. Acc is the type the
// sums are kept in (T itself for f32 and f64, f32 for the 16-bit types).
template <typename T, typename Acc>
__global__ void rank_sum_kernel(const T* __restrict__ pieces, int n, std::size_t count,
                                T* __restrict__ out) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride) {
    Acc s = to_acc(pieces[i]);
    for (int r = 1; r < n; ++r) s += to_acc(pieces[static_cast<std::size_t>(r) * count + i]);
    out[i] = from_acc<T, Acc>(s);
  }
}

template <typename T, typename Acc>
void launch(const void* pieces, int n, std::size_t count, void* out, Stream stream) {
  if (count == 0) return;
  constexpr int kThreads = 256;
  const std::size_t blocks = std::min<std::size_t>((count + kThreads - 1) / kThreads, 4096);
  rank_sum_kernel<T, Acc><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
      static_cast<const T*>(pieces), n, count, static_cast<T*>(out));
  CUDA_LAUNCH_CHECK();
}

}  // namespace

void rank_sum_cuda(const void* pieces, int n, std::size_t count, void* out, DType dtype,
                   Stream stream) {
  switch (dtype) {
    case DType::f32:
      return launch<float, float>(pieces, n, count, out, stream);
    case DType::f64:
      return launch<double, double>(pieces, n, count, out, stream);
    case DType::bf16:
      return launch<__nv_bfloat16, float>(pieces, n, count, out, stream);
    case DType::f16:
      return launch<__half, float>(pieces, n, count, out, stream);
    default:
      break;
  }
  throw Error(std::string("rank_sum: no device sum for ") + dtype_name(dtype));
}

}  // namespace cugpt::kernels
