// matmul backward on CUDA: the two GEMMs of a Linear layer's gradient through cublasGemmEx, and
// the bias gradient as a column reduction.
//
// Design.
//  - GEMMs: row-major matrices read as column-major ones (the bytes of a row-major (R, C) matrix
//    are the column-major (C, R) one), so nothing is transposed in memory; the mapping of each
//    product is written out below. CUBLAS_COMPUTE_32F (f32 accumulation, never TF32, as the
//    forward), f32 alpha and beta; dw takes beta = 1 so that micro-batches accumulate. cuBLAS
//    gives the same bits for the same problem on the same GPU; the handle uses the caller's
//    arena workspace (or none), never a pool of its own.
//  - dbias (OC) += column sums of dout (N, OC): a block of 32 x 16 threads owns 32 columns;
//    thread (x, y) sums rows y, y + 16, ... of column x in f32, and the 16 partials are added in
//    y order through shared memory before the one read-add-round of dbias. A fixed split and a
//    fixed order, no atomics: bit-reproducible.
#include <cublas_v2.h>

#include <cstdint>
#include <mutex>
#include <string>

#include "kernels/cuda/blas.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/convert.cuh"
#include "kernels/matmul.h"

namespace cugpt::kernels {

namespace {

// C (m, n) = op(A) op(B) + beta C, column-major, every matrix in `type`.
void gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
          const void* A, int lda, const void* B, int ldb, float beta, void* C, int ldc,
          cudaDataType_t type) {
  const float alpha = 1.f;
  CUBLAS_CHECK(cublasGemmEx(h, ta, tb, m, n, k, &alpha, A, type, lda, B, type, ldb, &beta, C, type,
                            ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

constexpr int kBiasCols = 32, kBiasLanes = 16;

template <typename T>
__global__ void __launch_bounds__(kBiasCols* kBiasLanes)
    bias_grad_kernel(T* dbias, const T* dout, int N, int OC, int ld_dout) {
  __shared__ float part[kBiasLanes][kBiasCols + 1];
  const int c = blockIdx.x * kBiasCols + threadIdx.x;
  float s = 0.f;
  if (c < OC)
    for (int r = threadIdx.y; r < N; r += kBiasLanes)
      s += to_f32(dout[static_cast<std::size_t>(r) * ld_dout + c]);
  part[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y != 0 || c >= OC) return;
  float total = 0.f;
#pragma unroll
  for (int y = 0; y < kBiasLanes; ++y) total += part[y][threadIdx.x];
  dbias[c] = from_f32<T>(to_f32(dbias[c]) + total);
}

}  // namespace

void matmul_backward_cuda(void* dx, void* dw, void* dbias, const void* dout, const void* x,
                          const void* w, int N, int IC, int OC, bool w_in_out, DType dtype,
                          MatmulWorkspace workspace, Stream stream, int ld_dout) {
  const cudaDataType_t type = cuda_type(dtype, "matmul_backward");
  if (ld_dout == 0) ld_dout = OC;
  CUGPT_CHECK(N >= 0 && IC > 0 && OC > 0 && ld_dout >= OC, "matmul_backward: bad sizes");
  // dout's rows lie ld_dout apart (the padded logits' gradient): its leading dimension below.
  if (N == 0) return;
  CUGPT_CHECK(dout && (!dx || w) && (!dw || x), "matmul_backward: null input");

  if (dx || dw) {
    BlasHandles& s = blas_handles();
    std::lock_guard<std::mutex> lock(s.mu);
    cublasHandle_t blas = s.blas(stream, workspace);  // the arena's workspace, or none
    if (dx) {
      // dx (N, IC) = dout (N, OC) . Wm, Wm (OC, IC) the forward's matrix (W, or W^T for Conv1D).
      // Column-major: dx^T (IC, N) = Wm^T (IC, OC) . dout^T (OC, N); dout^T is dout's bytes.
      // W [OC, IC] row-major is column-major (IC, OC) = Wm^T: op N, ld IC. W [IC, OC] row-major
      // is column-major (OC, IC) = Wm: op T, ld OC.
      if (w_in_out) {
        gemm(blas, CUBLAS_OP_T, CUBLAS_OP_N, IC, N, OC, w, OC, dout, ld_dout, 0.f, dx, IC, type);
      } else {
        gemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, IC, N, OC, w, IC, dout, ld_dout, 0.f, dx, IC, type);
      }
    }
    if (dw) {
      if (w_in_out) {
        // dW [IC, OC] += x^T dout. Column-major: dW^T (OC, IC) += dout^T (OC, N) . x (N, IC);
        // dout^T is dout's bytes (op N, ld OC), x is x's bytes (IC, N) transposed (op T, ld IC).
        gemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, OC, IC, N, dout, ld_dout, x, IC, 1.f, dw, OC, type);
      } else {
        // dW [OC, IC] += dout^T x. Column-major: dW^T (IC, OC) += x^T (IC, N) . dout (N, OC);
        // x^T is x's bytes (op N, ld IC), dout is dout's bytes (OC, N) transposed (op T, ld OC).
        gemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, IC, OC, N, x, IC, dout, ld_dout, 1.f, dw, IC, type);
      }
    }
  }
  if (dbias) {
    dispatch_dtype("matmul_backward", dtype, [&](auto zero) {
      using T = decltype(zero);
      const dim3 block(kBiasCols, kBiasLanes);
      const unsigned blocks = static_cast<unsigned>((OC + kBiasCols - 1) / kBiasCols);
      bias_grad_kernel<T><<<blocks, block, 0, stream>>>(
          static_cast<T*>(dbias), static_cast<const T*>(dout), N, OC, ld_dout);
      CUDA_LAUNCH_CHECK();
    });
  }
}

}  // namespace cugpt::kernels
