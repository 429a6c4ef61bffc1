// The decode step's device-side state (kernels/decode_state.h): one thread per element written,
// elements copied whole (2, 4 or 8 bytes), the cached length read once per thread from device
// memory so that the launch does not depend on it.
#include "kernels/cuda/check.cuh"
#include "kernels/decode_state.h"

namespace cugpt::kernels {

namespace {

constexpr int kThreads = 256;

template <typename E>
__global__ void cache_write_kernel(CacheWriteArgs a) {
  const long long n = static_cast<long long>(a.B) * a.Tq * a.C;
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const long long c = i % a.C, bt = i / a.C, t = bt % a.Tq, b = bt / a.Tq;
  const long long row = static_cast<long long>(*a.past) + t;
  if (row < 0 || row >= a.t_max) return;
  const E* src = static_cast<const E*>(a.src);
  E* cache = static_cast<E*>(a.cache);
  cache[(b * a.t_max + row) * a.C + c] = src[bt * a.src_stride + a.src_col + c];
}

__global__ void advance_kernel(std::int32_t* positions, int n, int delta) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) positions[i] += delta;
}

}  // namespace

void cache_write_cuda(const CacheWriteArgs& a, Stream stream) {
  check_cache_write(a);
  const long long n = static_cast<long long>(a.B) * a.Tq * a.C;
  if (n == 0) return;
  const auto grid = static_cast<unsigned>((n + kThreads - 1) / kThreads);
  if (a.elem_size == 2)
    cache_write_kernel<unsigned short><<<grid, kThreads, 0, stream>>>(a);
  else if (a.elem_size == 4)
    cache_write_kernel<unsigned int><<<grid, kThreads, 0, stream>>>(a);
  else
    cache_write_kernel<unsigned long long><<<grid, kThreads, 0, stream>>>(a);
  CUDA_LAUNCH_CHECK();
}

void advance_positions_cuda(std::int32_t* positions, int n, int delta, Stream stream) {
  if (n <= 0) return;
  advance_kernel<<<(n + kThreads - 1) / kThreads, kThreads, 0, stream>>>(positions, n, delta);
  CUDA_LAUNCH_CHECK();
}

}  // namespace cugpt::kernels
