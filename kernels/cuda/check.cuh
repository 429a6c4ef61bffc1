// CUDA_CHECK / CUBLAS_CHECK / CUDA_LAUNCH_CHECK: turn a failed CUDA call into cugpt::Error with
// the file, the line and the library's own error string. Device-code files only.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "kernels/error.h"

#define CUDA_CHECK(expr)                                                                    \
  do {                                                                                      \
    cudaError_t cugpt_err_ = (expr);                                                        \
    if (cugpt_err_ != cudaSuccess)                                                          \
      throw ::cugpt::Error(::cugpt::located(                                                \
          __FILE__, __LINE__, std::string(#expr) + ": " + cudaGetErrorString(cugpt_err_))); \
  } while (0)

#define CUBLAS_CHECK(expr)                                                                    \
  do {                                                                                        \
    cublasStatus_t cugpt_st_ = (expr);                                                        \
    if (cugpt_st_ != CUBLAS_STATUS_SUCCESS)                                                   \
      throw ::cugpt::Error(::cugpt::located(                                                  \
          __FILE__, __LINE__, std::string(#expr) + ": " + cublasGetStatusString(cugpt_st_))); \
  } while (0)

// After every kernel launch: reports a bad launch configuration at the launch site.
#define CUDA_LAUNCH_CHECK() CUDA_CHECK(cudaGetLastError())
