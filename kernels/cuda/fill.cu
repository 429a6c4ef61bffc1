#include "kernels/cuda/check.cuh"
#include "kernels/fill.h"

namespace cugpt::kernels {

namespace {
template <typename T>
__global__ void fill_kernel(T* __restrict__ dst, std::size_t n, T value) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    dst[i] = value;
  }
}

template <typename T>
void launch(void* dst, std::size_t n, std::uint64_t pattern, Stream stream) {
  if (n == 0) return;
  constexpr int kThreads = 256;
  // Grid-stride loop: a few waves of blocks are enough to saturate the memory system.
  const std::size_t blocks = std::min<std::size_t>((n + kThreads - 1) / kThreads, 4096);
  fill_kernel<T><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(static_cast<T*>(dst), n,
                                                                         static_cast<T>(pattern));
  CUDA_LAUNCH_CHECK();
}
}  // namespace

void fill_cuda(void* dst, std::size_t n, std::size_t elem_size, std::uint64_t pattern,
               Stream stream) {
  switch (elem_size) {
    case 2:
      return launch<std::uint16_t>(dst, n, pattern, stream);
    case 4:
      return launch<std::uint32_t>(dst, n, pattern, stream);
    case 8:
      return launch<std::uint64_t>(dst, n, pattern, stream);
  }
  throw Error("fill: unsupported element size " + std::to_string(elem_size));
}

}  // namespace cugpt::kernels
