// The activations' forward formulas on the device (kernels/activation.h), shared by the
// elementwise kernel and the epilogues that apply them in place (kernels/cuda/ln_gemv.cu).
#pragma once

#include "kernels/activation.h"

namespace cugpt::kernels {

// The CPU twin's formulas in f32; tanhf and erff rather than their fast intrinsics, since the
// kernels that call this wait on memory either way.
__device__ __forceinline__ float activate(float v, Activation act) {
  switch (act) {
    case Activation::relu:
      return v > 0.f ? v : 0.f;
    case Activation::gelu_tanh:
      return 0.5f * v * (1.f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    case Activation::gelu_erf:
      break;
  }
  return 0.5f * v * (1.f + erff(v * 0.7071067811865476f));
}

}  // namespace cugpt::kernels
