// Block-wide reductions for kernels that give one block to one row: warp shuffles, then the
// warps' partials through shared memory. Every thread of the block must call them.
#pragma once

namespace cugpt::kernels {

template <bool kMax>
__device__ __forceinline__ float combine(float a, float b) {
  return kMax ? fmaxf(a, b) : a + b;
}

// kThreads: the block size, a multiple of 32 up to 1024.
template <int kThreads, bool kMax>
__device__ float block_reduce(float v) {
  __shared__ float partial[kThreads / 32];
  for (int o = 16; o > 0; o >>= 1) v = combine<kMax>(v, __shfl_xor_sync(0xffffffffu, v, o));
  __syncthreads();  // the previous call's readers are done with `partial`
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
  __syncthreads();
  v = partial[0];
  for (int w = 1; w < kThreads / 32; ++w) v = combine<kMax>(v, partial[w]);
  return v;
}

template <int kThreads>
__device__ float block_sum(float v) {
  return block_reduce<kThreads, false>(v);
}
template <int kThreads>
__device__ float block_max(float v) {
  return block_reduce<kThreads, true>(v);
}

}  // namespace cugpt::kernels
