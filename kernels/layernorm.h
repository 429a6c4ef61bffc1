// layernorm over the last dimension: out = (x - mean) * rstd * weight + bias, biased variance.
#pragma once

#include <cstddef>

#include "kernels/dtype.h"
#include "kernels/runtime.h"

namespace cugpt::kernels {

// x, out (N, C); weight, bias (C); mean, rstd (N) are written when non-null (for backward).
void layernorm_forward_cpu(float* out, float* mean, float* rstd, const float* x,
                           const float* weight, const float* bias, int N, int C, float eps);
void layernorm_forward_cpu(double* out, double* mean, double* rstd, const double* x,
                           const double* weight, const double* bias, int N, int C, double eps);

// backward (cpu), from the mean and rstd the forward wrote. dx (N, C) is written; dweight and
// dbias (C) accumulate (+=) so that micro-batches add up, and are skipped when nullptr.
void layernorm_backward_cpu(float* dx, float* dweight, float* dbias, const float* dout,
                            const float* x, const float* weight, const float* mean,
                            const float* rstd, int N, int C);
void layernorm_backward_cpu(double* dx, double* dweight, double* dbias, const double* dout,
                            const double* x, const double* weight, const double* mean,
                            const double* rstd, int N, int C);

// CUDA, dtype f32/bf16/f16 with f32 statistics; mean and rstd (f32, N) written when non-null.
void layernorm_forward_cuda(void* out, float* mean, float* rstd, const void* x, const void* weight,
                            const void* bias, int N, int C, float eps, DType dtype, Stream stream);
// Fused residual add + LayerNorm: sum = x + r (written, it is the next residual stream), then
// out = LayerNorm(sum). One read of x and r instead of two passes.
void layernorm_residual_forward_cuda(void* sum, void* out, float* mean, float* rstd, const void* x,
                                     const void* r, const void* weight, const void* bias, int N,
                                     int C, float eps, DType dtype, Stream stream);

// CUDA backward. dx (N, C) written (it may alias dout); dweight and dbias (C) accumulate and are
// skipped when nullptr; mean and rstd are the forward's f32 statistics. The parameter gradients
// are column sums: each chunk of rows writes its partial sums into `workspace` (f32, at least
// layernorm_backward_workspace_floats(N, C)), then one pass adds the chunks in order. No
// atomics: bit-reproducible from run to run.
inline int layernorm_backward_chunks(int N) {
  const int chunks = (N + 63) / 64;  // 64 rows a chunk, at most 128 chunks
  return chunks < 1 ? 1 : (chunks > 128 ? 128 : chunks);
}
inline std::size_t layernorm_backward_workspace_floats(int N, int C) {
  return 2 * static_cast<std::size_t>(layernorm_backward_chunks(N)) * static_cast<std::size_t>(C);
}
void layernorm_backward_cuda(void* dx, void* dweight, void* dbias, const void* dout, const void* x,
                             const void* weight, const float* mean, const float* rstd, int N, int C,
                             float* workspace, DType dtype, Stream stream);

}  // namespace cugpt::kernels
