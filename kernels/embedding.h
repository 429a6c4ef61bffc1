// embedding: out[b, t, :] = wte[tokens[b, t]] + wpe[positions[b, t]] (+ wtt[token_types[b, t]]).
// Token and position ids are validated by the caller (nn/) before the kernel runs.
#pragma once

#include "kernels/dtype.h"
#include "kernels/runtime.h"

#include <cstdint>

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

}  // namespace cugpt::kernels
