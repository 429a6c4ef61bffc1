#include "kernels/cuda/check.cuh"
#include "kernels/cuda/vec.cuh"
#include "kernels/embedding.h"

namespace cugpt::kernels {

namespace {

constexpr int kRowsPerBlock = 8;  // one warp per token: no index division, the ids broadcast

// out[row] = wte[token] + wpe[position] (+ wtt[type]), added in f32 in the CPU twin's order and
// rounded once. Each lane walks its row in packs of kVec, 32 packs apart.
template <typename T, int kVec>
__global__ void __launch_bounds__(32 * kRowsPerBlock)
    embedding_kernel(EmbeddingArgs a, T* out, const T* wte, const T* wpe, const T* wtt) {
  const std::size_t rows = static_cast<std::size_t>(a.B) * a.T;
  const std::size_t row = static_cast<std::size_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  if (row >= rows) return;
  const std::size_t C = static_cast<std::size_t>(a.C);
  const T* tok = wte + static_cast<std::size_t>(a.tokens[row]) * C;
  const T* pos = wpe + static_cast<std::size_t>(a.positions[row]) * C;
  const T* type =
      wtt ? wtt + static_cast<std::size_t>(a.token_types ? a.token_types[row] : 0) * C : nullptr;
  T* o = out + row * C;
  for (std::size_t c = (threadIdx.x % 32) * kVec; c < C; c += 32 * kVec) {
    float v[kVec], p[kVec];
    load_vec(v, tok + c);
    load_vec(p, pos + c);
#pragma unroll
    for (int k = 0; k < kVec; ++k) v[k] += p[k];
    if (type) {
      load_vec(p, type + c);
#pragma unroll
      for (int k = 0; k < kVec; ++k) v[k] += p[k];
    }
    store_vec(o + c, v);
  }
}

}  // namespace

void embedding_forward_cuda(const EmbeddingArgs& a, void* out, const void* wte, const void* wpe,
                            const void* wtt, DType dtype, Stream stream) {
  dispatch_dtype("embedding", dtype, [&](auto zero) {
    using T = decltype(zero);
    if (a.B < 0 || a.T < 0 || a.C <= 0) throw Error("embedding: bad sizes");
    const std::size_t rows = static_cast<std::size_t>(a.B) * a.T;
    if (rows == 0) return;
    // Packs need every row start aligned: the bases, and a row length a whole number of packs.
    const bool vectorise = a.C % kPack<T> == 0 && aligned16(out) && aligned16(wte) &&
                           aligned16(wpe) && (!wtt || aligned16(wtt));
    dispatch_vec<T>(vectorise, [&](auto vec) {
      constexpr int kVec = decltype(vec)::value;
      const std::size_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
      embedding_kernel<T, kVec><<<static_cast<unsigned>(blocks), 32 * kRowsPerBlock, 0, stream>>>(
          a, static_cast<T*>(out), static_cast<const T*>(wte), static_cast<const T*>(wpe),
          static_cast<const T*>(wtt));
      CUDA_LAUNCH_CHECK();
    });
  });
}

}  // namespace cugpt::kernels
