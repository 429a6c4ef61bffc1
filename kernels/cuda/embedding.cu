#include "kernels/cuda/check.cuh"
#include "kernels/cuda/convert.cuh"
#include "kernels/embedding.h"

namespace cugpt::kernels {

namespace {
// One block per token: the row sums are independent and C is a few hundred to a few thousand.
template <typename T>
__global__ void embedding_kernel(EmbeddingArgs a, T* out, const T* wte, const T* wpe,
                                 const T* wtt) {
  const std::size_t i = blockIdx.x;
  const std::size_t C = static_cast<std::size_t>(a.C);
  const T* tok = wte + static_cast<std::size_t>(a.tokens[i]) * C;
  const T* pos = wpe + static_cast<std::size_t>(a.positions[i]) * C;
  const T* type =
      wtt ? wtt + static_cast<std::size_t>(a.token_types ? a.token_types[i] : 0) * C : nullptr;
  T* o = out + i * C;
  for (std::size_t c = threadIdx.x; c < C; c += blockDim.x) {
    float v = to_f32(tok[c]) + to_f32(pos[c]);
    if (type) v += to_f32(type[c]);
    o[c] = from_f32<T>(v);
  }
}
}  // namespace

void embedding_forward_cuda(const EmbeddingArgs& a, void* out, const void* wte, const void* wpe,
                            const void* wtt, DType dtype, Stream stream) {
  dispatch_dtype("embedding", dtype, [&](auto zero) {
    using T = decltype(zero);
    const unsigned rows = static_cast<unsigned>(a.B) * static_cast<unsigned>(a.T);
    if (rows == 0) return;
    embedding_kernel<T>
        <<<rows, 256, 0, stream>>>(a, static_cast<T*>(out), static_cast<const T*>(wte),
                                   static_cast<const T*>(wpe), static_cast<const T*>(wtt));
    CUDA_LAUNCH_CHECK();
  });
}

}  // namespace cugpt::kernels
