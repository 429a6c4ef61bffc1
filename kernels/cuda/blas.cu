// The registry of cuBLAS and cuBLASLt handles, one pair per device (kernels/cuda/blas.cuh).
#include <map>
#include <memory>

#include "kernels/cuda/blas.cuh"
#include "kernels/cuda/check.cuh"

namespace cugpt::kernels {

BlasHandles::~BlasHandles() {
  if (blas_) cublasDestroy(blas_);
  if (lt_) cublasLtDestroy(lt_);
}

cublasLtHandle_t BlasHandles::lt() {
  if (!lt_) CUBLAS_CHECK(cublasLtCreate(&lt_));
  return lt_;
}

cublasHandle_t BlasHandles::blas(Stream stream, const MatmulWorkspace& workspace) {
  if (!blas_) CUBLAS_CHECK(cublasCreate(&blas_));
  CUBLAS_CHECK(cublasSetStream(blas_, stream));
  const bool ok = usable(workspace);
  CUBLAS_CHECK(cublasSetWorkspace(blas_, ok ? workspace.ptr : nullptr, ok ? workspace.bytes : 0));
  return blas_;
}

BlasHandles& blas_handles() {
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  static std::mutex mu;
  static std::map<int, std::unique_ptr<BlasHandles>> handles;
  std::lock_guard<std::mutex> lock(mu);
  std::unique_ptr<BlasHandles>& h = handles[device];
  if (!h) h = std::make_unique<BlasHandles>();
  return *h;
}

}  // namespace cugpt::kernels
