#include "kernels/cuda/check.cuh"
#include "kernels/cuda/convert.cuh"
#include "kernels/cuda/reduce.cuh"
#include "kernels/softmax.h"

namespace cugpt::kernels {

namespace {

constexpr int kThreads = 256;

// One block per row, any length (vocabulary-wide rows loop): max, sum of exponentials, write.
template <typename T>
__global__ void softmax_kernel(T* out, const T* x, int cols) {
  const std::size_t row = blockIdx.x;
  const T* in = x + row * cols;
  float mx = -INFINITY;
  for (int c = threadIdx.x; c < cols; c += kThreads) mx = fmaxf(mx, to_f32(in[c]));
  mx = block_max<kThreads>(mx);
  float s = 0.f;
  for (int c = threadIdx.x; c < cols; c += kThreads) s += __expf(to_f32(in[c]) - mx);
  const float inv = 1.f / block_sum<kThreads>(s);
  T* o = out + row * cols;
  for (int c = threadIdx.x; c < cols; c += kThreads)
    o[c] = from_f32<T>(__expf(to_f32(in[c]) - mx) * inv);
}

}  // namespace

void softmax_forward_cuda(void* out, const void* x, int rows, int cols, DType dtype,
                          Stream stream) {
  if (rows < 0 || cols <= 0) throw Error("softmax: bad sizes");
  dispatch_dtype("softmax", dtype, [&](auto zero) {
    using T = decltype(zero);
    if (rows == 0) return;
    softmax_kernel<T><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(
        static_cast<T*>(out), static_cast<const T*>(x), cols);
    CUDA_LAUNCH_CHECK();
  });
}

}  // namespace cugpt::kernels
