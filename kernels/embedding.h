// embedding: out[b, t, :] = wte[tokens[b, t]] + wpe[positions[b, t]] (+ wtt[token_types[b, t]]).
// Token and position ids are validated by the caller (nn/) before the kernel runs.
#pragma once

#include "kernels/dtype.h"
#include "kernels/runtime.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <vector>

namespace cugpt::kernels {

struct EmbeddingArgs {
  int B = 0, T = 0, C = 0;
  const std::int32_t* tokens = nullptr;       // (B, T)
  const std::int32_t* positions = nullptr;    // (B, T)
  const std::int32_t* token_types = nullptr;  // (B, T) or nullptr: type 0 everywhere
};

// out (B, T, C); wte (V, C); wpe (P, C); wtt (types, C) or nullptr for models without it.
void embedding_forward_cpu(const EmbeddingArgs& a, float* out, const float* wte, const float* wpe,
                           const float* wtt);
void embedding_forward_cpu(const EmbeddingArgs& a, double* out, const double* wte,
                           const double* wpe, const double* wtt);

// backward (cpu): scatter-adds each dout (B, T, C) row into the rows of the tables it was read
// from. The table gradients accumulate (+=); dwtt may be nullptr.
void embedding_backward_cpu(const EmbeddingArgs& a, const float* dout, float* dwte, float* dwpe,
                            float* dwtt);
void embedding_backward_cpu(const EmbeddingArgs& a, const double* dout, double* dwte, double* dwpe,
                            double* dwtt);

// CUDA: tokens, positions and token_types in `a` are device pointers; tables and out in dtype
// (f32, bf16 or f16), summed in f32.
void embedding_forward_cuda(const EmbeddingArgs& a, void* out, const void* wte, const void* wpe,
                            const void* wtt, DType dtype, Stream stream);

// CUDA backward: a deterministic scatter-add. The ids are host data in nn/, so the host groups
// the dout rows by the table row they add into (group_embedding_rows); one block then owns one
// table row and adds its dout rows in ascending order, as the CPU twin does: no atomics, and in
// f32 the same sums bit for bit. Device arrays:
struct EmbeddingGradGroups {
  int count = 0;                          // distinct table rows
  const std::int32_t* rows = nullptr;     // (count): the table row of each group
  const std::int32_t* offsets = nullptr;  // (count + 1): group g is order[offsets[g], offsets[g+1])
  const std::int32_t* order = nullptr;    // (N): dout rows, ascending within a group
};

// Ints of one grouping of N ids: rows (at 0), offsets (at N), order (at 2N + 1).
inline std::size_t embedding_groups_ints(int N) {
  return 3 * static_cast<std::size_t>(N) + 1;
}
// Groups rows 0..N-1 by ids[i] into out (embedding_groups_ints(N) ints, host), in the layout
// above; returns the number of groups. Stable: rows keep their order inside a group.
inline int group_embedding_rows(const std::int32_t* ids, int N, std::int32_t* out) {
  std::vector<std::int32_t> order(static_cast<std::size_t>(N));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int32_t a, std::int32_t b) { return ids[a] < ids[b]; });
  std::int32_t* rows = out;
  std::int32_t* offsets = out + N;
  std::int32_t* sorted = out + 2 * static_cast<std::size_t>(N) + 1;
  int count = 0;
  for (int k = 0; k < N; ++k) {
    sorted[k] = order[k];
    if (k == 0 || ids[order[k]] != ids[order[k - 1]]) {
      rows[count] = ids[order[k]];
      offsets[count] = k;
      ++count;
    }
  }
  offsets[count] = N;
  return count;
}
inline EmbeddingGradGroups embedding_groups_at(const std::int32_t* device_ints, int N, int count) {
  EmbeddingGradGroups g;
  g.count = count;
  g.rows = device_ints;
  g.offsets = device_ints + N;
  g.order = device_ints + 2 * static_cast<std::size_t>(N) + 1;
  return g;
}

// dtable (rows, C) += the grouped rows of dout (N, C); f32, bf16 or f16, summed in f32 and
// rounded once per element.
void embedding_backward_cuda(const void* dout, int C, void* dtable, const EmbeddingGradGroups& g,
                             DType dtype, Stream stream);

}  // namespace cugpt::kernels
