// LayerNorm backward on CUDA. With xhat = (x - mean) * rstd and g = dout * weight:
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),
//   dweight += sum over rows of dout * xhat,  dbias += sum over rows of dout.
//
// Design: three kernels, all reading the forward's f32 statistics, all math in f32.
//  1. Column partials. Grid (ceil(C / 32), chunks), block 32 x 8. Block (cx, p) owns columns
//     [32 cx, 32 cx + 32) of row chunk p (rows [p R, (p + 1) R), R = ceil(N / chunks), chunks
//     from layernorm_backward_chunks(N)); thread (x, y) sums dout * xhat and dout over rows
//     y, y + 8, ... of the chunk for its column; the 8 partials are added in y order through
//     shared memory and stored at workspace[p][c] (dweight) and workspace[chunks + p][c] (dbias).
//     It runs first because dx may alias dout.
//  2. dx. A warp per row, 8 rows per 256-thread block; lane l takes columns l, l + 32, ...; the
//     two row sums (g and g * xhat) are reduced with xor shuffles, then dx is written.
//  3. Finish. One thread per column adds the chunks' partials in chunk order into dweight and
//     dbias (one read, one add, one rounding).
// Every sum has a split and an order fixed by N and C alone (not by the GPU): no atomics, and
// the same bits on every run.
#include <string>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/vec.cuh"
#include "kernels/layernorm.h"

namespace cugpt::kernels {

namespace {

constexpr int kCols = 32, kLanes = 8;  // kernel 1's block
constexpr int kRowsPerBlock = 8;       // kernel 2: a warp per row
constexpr int kFinishThreads = 256;    // kernel 3

template <typename T>
__global__ void __launch_bounds__(kCols* kLanes)
    column_partials_kernel(float* workspace, const T* dout, const T* x, const float* mean,
                           const float* rstd, int N, int C, int chunks) {
  __shared__ float pw[kLanes][kCols + 1], pb[kLanes][kCols + 1];
  const int c = blockIdx.x * kCols + threadIdx.x;
  const int p = blockIdx.y;
  const int rows_per_chunk = (N + chunks - 1) / chunks;
  const int first = p * rows_per_chunk;
  const int last = min(N, first + rows_per_chunk);
  float sw = 0.f, sb = 0.f;
  if (c < C) {
    for (int r = first + threadIdx.y; r < last; r += kLanes) {
      const std::size_t at = static_cast<std::size_t>(r) * C + c;
      const float g = to_f32(dout[at]);
      sw += g * ((to_f32(x[at]) - mean[r]) * rstd[r]);
      sb += g;
    }
  }
  pw[threadIdx.y][threadIdx.x] = sw;
  pb[threadIdx.y][threadIdx.x] = sb;
  __syncthreads();
  if (threadIdx.y != 0 || c >= C) return;
  float tw = 0.f, tb = 0.f;
#pragma unroll
  for (int y = 0; y < kLanes; ++y) {
    tw += pw[y][threadIdx.x];
    tb += pb[y][threadIdx.x];
  }
  workspace[static_cast<std::size_t>(p) * C + c] = tw;
  workspace[static_cast<std::size_t>(chunks + p) * C + c] = tb;
}

template <typename T>
__global__ void __launch_bounds__(32 * kRowsPerBlock)
    dx_kernel(T* dx, const T* dout, const T* x, const T* weight, const float* mean,
              const float* rstd, int N, int C) {
  const std::size_t row = static_cast<std::size_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  if (row >= static_cast<std::size_t>(N)) return;  // a whole warp: rows never share one
  const int lane = threadIdx.x % 32;
  const std::size_t base = row * C;
  const float m = mean[row], r = rstd[row];
  float sg = 0.f, sgx = 0.f;
  for (int c = lane; c < C; c += 32) {
    const float g = to_f32(dout[base + c]) * to_f32(weight[c]);
    sg += g;
    sgx += g * ((to_f32(x[base + c]) - m) * r);
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    sg += __shfl_xor_sync(0xffffffffu, sg, o);
    sgx += __shfl_xor_sync(0xffffffffu, sgx, o);
  }
  const float g_mean = sg / static_cast<float>(C), gx_mean = sgx / static_cast<float>(C);
  // Each lane reads dout[c] before writing dx[c], and only its own columns: dx may alias dout.
  for (int c = lane; c < C; c += 32) {
    const float g = to_f32(dout[base + c]) * to_f32(weight[c]);
    const float xhat = (to_f32(x[base + c]) - m) * r;
    dx[base + c] = from_f32<T>(r * (g - g_mean - xhat * gx_mean));
  }
}

template <typename T>
__global__ void __launch_bounds__(kFinishThreads)
    finish_kernel(T* dweight, T* dbias, const float* workspace, int C, int chunks) {
  const int c = blockIdx.x * kFinishThreads + threadIdx.x;
  if (c >= C) return;
  float tw = 0.f, tb = 0.f;
  for (int p = 0; p < chunks; ++p) {
    tw += workspace[static_cast<std::size_t>(p) * C + c];
    tb += workspace[static_cast<std::size_t>(chunks + p) * C + c];
  }
  if (dweight) dweight[c] = from_f32<T>(to_f32(dweight[c]) + tw);
  if (dbias) dbias[c] = from_f32<T>(to_f32(dbias[c]) + tb);
}

}  // namespace

void layernorm_backward_cuda(void* dx, void* dweight, void* dbias, const void* dout, const void* x,
                             const void* weight, const float* mean, const float* rstd, int N, int C,
                             float* workspace, DType dtype, Stream stream) {
  dispatch_dtype("layernorm_backward", dtype, [&](auto zero) {
    using T = decltype(zero);
    CUGPT_CHECK(N >= 0 && C > 0, "layernorm_backward: bad sizes");
    if (N == 0) return;
    CUGPT_CHECK(dx && dout && x && weight && mean && rstd, "layernorm_backward: null pointer");
    const bool params = dweight || dbias;
    CUGPT_CHECK(!params || workspace,
                "layernorm_backward: the parameter gradients need a workspace");
    const int chunks = layernorm_backward_chunks(N);
    if (params) {
      const dim3 grid(static_cast<unsigned>((C + kCols - 1) / kCols),
                      static_cast<unsigned>(chunks));
      column_partials_kernel<T><<<grid, dim3(kCols, kLanes), 0, stream>>>(
          workspace, static_cast<const T*>(dout), static_cast<const T*>(x), mean, rstd, N, C,
          chunks);
      CUDA_LAUNCH_CHECK();
    }
    const unsigned row_blocks = static_cast<unsigned>((N + kRowsPerBlock - 1) / kRowsPerBlock);
    dx_kernel<T><<<row_blocks, 32 * kRowsPerBlock, 0, stream>>>(
        static_cast<T*>(dx), static_cast<const T*>(dout), static_cast<const T*>(x),
        static_cast<const T*>(weight), mean, rstd, N, C);
    CUDA_LAUNCH_CHECK();
    if (params) {
      const unsigned blocks = static_cast<unsigned>((C + kFinishThreads - 1) / kFinishThreads);
      finish_kernel<T><<<blocks, kFinishThreads, 0, stream>>>(
          static_cast<T*>(dweight), static_cast<T*>(dbias), workspace, C, chunks);
      CUDA_LAUNCH_CHECK();
    }
  });
}

}  // namespace cugpt::kernels
