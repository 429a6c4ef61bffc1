// Activation backward on CUDA: dx = dout * act'(x), x being the activation's input.
//
// Design: 256 threads a block, a grid-stride loop over packs of kVec elements (16-byte loads
// and stores when dx, dout and x are all 16-byte aligned, one element at a time otherwise), and
// the n % kVec elements left at the end one each by the first threads. Each thread owns the
// elements it loads: it reads dout[i] and x[i] before writing dx[i], so dx may alias dout. No
// reduction anywhere, so the result is deterministic by construction. The derivatives are the
// CPU twin's formulas (kernels/cpu/activation_backward.cpp) in f32 with the accurate tanhf,
// erff and expf, rounded once on store.
#include <algorithm>

#include "kernels/activation.h"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/vec.cuh"

namespace cugpt::kernels {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float backward(float g, float v, Activation act) {
  switch (act) {
    case Activation::relu:
      return v > 0.f ? g : 0.f;  // a select, as the CPU twin: no 0 * inf
    case Activation::gelu_tanh: {
      // f = x/2 (1 + tanh(u)), u = k (x + a x^3): f' = (1 + t)/2 + x/2 (1 - t^2) k (1 + 3 a x^2)
      const float k = 0.7978845608028654f, a = 0.044715f;
      const float t = tanhf(k * (v + a * v * v * v));
      const float du = k * (1.f + 3.f * a * v * v);
      return g * (0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * du);
    }
    case Activation::gelu_erf:
      break;
  }
  // f = x Phi(x): f' = Phi(x) + x phi(x)
  const float cdf = 0.5f * (1.f + erff(v * 0.7071067811865476f));
  return g * (cdf + v * 0.3989422804014327f * expf(-0.5f * v * v));
}

template <typename T, int kVec>
__global__ void __launch_bounds__(kThreads)
    activation_backward_kernel(T* dx, const T* dout, const T* x, std::size_t n, Activation act) {
  const std::size_t packs = n / kVec;
  const std::size_t tid = static_cast<std::size_t>(blockIdx.x) * kThreads + threadIdx.x;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * kThreads;
  for (std::size_t p = tid; p < packs; p += stride) {
    float g[kVec], v[kVec];
    load_vec(g, dout + p * kVec);
    load_vec(v, x + p * kVec);
#pragma unroll
    for (int k = 0; k < kVec; ++k) g[k] = backward(g[k], v[k], act);
    store_vec(dx + p * kVec, g);
  }
  const std::size_t i = packs * kVec + tid;
  if (i < n) dx[i] = from_f32<T>(backward(to_f32(dout[i]), to_f32(x[i]), act));
}

}  // namespace

void activation_backward_cuda(void* dx, const void* dout, const void* x, std::size_t n,
                              Activation act, DType dtype, Stream stream) {
  dispatch_dtype("activation_backward", dtype, [&](auto zero) {
    using T = decltype(zero);
    if (n == 0) return;
    CUGPT_CHECK(dx && dout && x, "activation_backward: null pointer");
    dispatch_vec<T>(aligned16(dx) && aligned16(dout) && aligned16(x), [&](auto vec) {
      constexpr int kVec = decltype(vec)::value;
      activation_backward_kernel<T, kVec>
          <<<grid_for(std::max<std::size_t>(n / kVec, 1), kThreads), kThreads, 0, stream>>>(
              static_cast<T*>(dx), static_cast<const T*>(dout), static_cast<const T*>(x), n, act);
      CUDA_LAUNCH_CHECK();
    });
  });
}

}  // namespace cugpt::kernels
