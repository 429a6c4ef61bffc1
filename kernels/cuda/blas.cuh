// The cuBLAS side of the products, shared by the forward (matmul.cu) and the backward
// (matmul_backward.cu): one cuBLAS and one cuBLASLt handle per device, the cuBLAS data type of
// each dtype, and what an address's alignment allows. Internal to kernels/cuda.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <library_types.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include "kernels/dtype.h"
#include "kernels/error.h"
#include "kernels/matmul.h"
#include "kernels/runtime.h"

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

// Largest power of two (up to 256, cuBLASLt's default assumption) dividing the address. x and
// out may be views at any row offset, so the heuristic must be told what it really gets.
inline std::uint32_t alignment(const void* p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  std::uint32_t bytes = 256;
  while (bytes > 1 && address % bytes != 0) bytes /= 2;
  return bytes;
}

// Both libraries want a 256-byte aligned workspace; anything else runs without one.
inline bool usable(const MatmulWorkspace& w) {
  return w.ptr && w.bytes > 0 && alignment(w.ptr) == 256;
}

// The handles of one device, created on first use. Hold `mu` for a whole call: the cuBLAS
// handle takes each call's stream and workspace, and callers keep per-call state beside it
// (the forward's cached descriptors take each call's bias pointer).
class BlasHandles {
 public:
  BlasHandles() = default;
  BlasHandles(const BlasHandles&) = delete;
  BlasHandles& operator=(const BlasHandles&) = delete;
  ~BlasHandles();  // at exit: statuses are ignored, nobody is left to hear of a failure

  std::mutex mu;
  cublasLtHandle_t lt();
  // The cuBLAS handle on `stream` with the arena's workspace (or none when it is not usable):
  // cublasSetStream resets the handle to cuBLAS's own pool, its own cudaMalloc, and the
  // arena's block keeps every device byte accounted for.
  cublasHandle_t blas(Stream stream, const MatmulWorkspace& workspace);

 private:
  cublasLtHandle_t lt_ = nullptr;
  cublasHandle_t blas_ = nullptr;
};

// The current device's handles. Created on the first product of each device, after the CUDA
// runtime is up, so destroyed before the runtime tears down at exit.
BlasHandles& blas_handles();

}  // namespace cugpt::kernels
