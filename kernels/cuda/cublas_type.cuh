// The cuBLAS data type of each dtype the cuda device computes in, shared by the forward and
// backward products. Internal to kernels/cuda.
#pragma once

#include <library_types.h>

#include <string>

#include "kernels/dtype.h"
#include "kernels/error.h"

namespace cugpt::kernels {

// f32, bf16 or f16; anything else is an Error naming `op`.
inline cudaDataType_t cuda_type(DType t, const char* op) {
  switch (t) {
    case DType::f32:
      return CUDA_R_32F;
    case DType::bf16:
      return CUDA_R_16BF;
    case DType::f16:
      return CUDA_R_16F;
    default:
      break;
  }
  throw Error(std::string(op) + ": the cuda device computes in f32, bf16 or f16, not " +
              dtype_name(t));
}

}  // namespace cugpt::kernels
