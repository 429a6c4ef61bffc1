#include "kernels/activation.h"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/convert.cuh"

namespace cugpt::kernels {

namespace {
template <typename T>
__global__ void activation_kernel(T* out, const T* x, std::size_t n, Activation act) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const float v = to_f32(x[i]);
    float y;
    if (act == Activation::relu) {
      y = v > 0.f ? v : 0.f;
    } else if (act == Activation::gelu_tanh) {
      y = 0.5f * v * (1.f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    } else {
      y = 0.5f * v * (1.f + erff(v * 0.7071067811865476f));
    }
    out[i] = from_f32<T>(y);
  }
}
}  // namespace

void activation_forward_cuda(void* out, const void* x, std::size_t n, Activation act, DType dtype,
                             Stream stream) {
  dispatch_dtype("activation", dtype, [&](auto zero) {
    using T = decltype(zero);
    if (n == 0) return;
    activation_kernel<T><<<grid_for(n, 256), 256, 0, stream>>>(static_cast<T*>(out),
                                                               static_cast<const T*>(x), n, act);
    CUDA_LAUNCH_CHECK();
  });
}

}  // namespace cugpt::kernels
