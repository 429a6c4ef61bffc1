// Embedding backward on CUDA: the scatter-add of dout (N, C) rows into the rows of a table's
// gradient, deterministic and without atomics.
//
// Design: the host has grouped the N dout rows by the table row they add into
// (group_embedding_rows in kernels/embedding.h: a stable sort of the ids, so rows stay in
// ascending order inside a group). Grid (groups, ceil(C / 128)), 128 threads a block: block
// (g, cy) owns table row rows[g] and columns [128 cy, 128 cy + 128), one column a thread; the
// thread reads the table's value once, adds the group's dout rows in ascending order in f32 and
// writes once. No two blocks touch the same element, so no atomics; the order of the additions
// is the CPU twin's (kernels/cpu/embedding_backward.cpp), so in f32 the result is bit-identical
// to it, and the same on every run in every dtype. Consecutive threads read consecutive
// columns of a dout row: coalesced.
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/convert.cuh"
#include "kernels/embedding.h"

namespace cugpt::kernels {

namespace {

constexpr int kThreads = 128;

template <typename T>
__global__ void __launch_bounds__(kThreads)
    embedding_backward_kernel(T* table, const T* dout, int C, EmbeddingGradGroups g) {
  const int c = blockIdx.y * kThreads + threadIdx.x;
  if (c >= C) return;
  const std::size_t at = static_cast<std::size_t>(g.rows[blockIdx.x]) * C + c;
  const int begin = g.offsets[blockIdx.x], end = g.offsets[blockIdx.x + 1];
  float acc = to_f32(table[at]);
  for (int k = begin; k < end; ++k)
    acc += to_f32(dout[static_cast<std::size_t>(g.order[k]) * C + c]);
  table[at] = from_f32<T>(acc);
}

}  // namespace

void embedding_backward_cuda(const void* dout, int C, void* dtable, const EmbeddingGradGroups& g,
                             DType dtype, Stream stream) {
  dispatch_dtype("embedding_backward", dtype, [&](auto zero) {
    using T = decltype(zero);
    CUGPT_CHECK(C > 0 && g.count >= 0, "embedding_backward: bad sizes");
    if (g.count == 0) return;
    CUGPT_CHECK(dout && dtable && g.rows && g.offsets && g.order,
                "embedding_backward: null pointer");
    const unsigned col_blocks = static_cast<unsigned>((C + kThreads - 1) / kThreads);
    CUGPT_CHECK(col_blocks <= 65535, "embedding_backward: C is too large");
    const dim3 grid(static_cast<unsigned>(g.count), col_blocks);
    embedding_backward_kernel<T>
        <<<grid, kThreads, 0, stream>>>(static_cast<T*>(dtable), static_cast<const T*>(dout), C, g);
    CUDA_LAUNCH_CHECK();
  });
}

}  // namespace cugpt::kernels
