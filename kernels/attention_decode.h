// attention_decode: causal attention of new tokens against a KV cache. The Tq queries sit at
// positions [past, past + Tq); keys and values are the cache's first past + Tq rows, which
// already hold the new tokens' k and v. Used by generation: a prefill (past = 0) and then one
// token per step (Tq = 1), reading each cached key once.
#pragma once

#include <cstdint>

#include "kernels/dtype.h"
#include "kernels/runtime.h"

namespace cugpt::kernels {

template <typename Real>
struct DecodeArgs {
  int B = 0, Tq = 0, past = 0, H = 0, D = 0;
  const Real* q = nullptr;  // (B, Tq, q_stride), head h at columns [h*D, (h+1)*D)
  int q_stride = 0;
  const Real* k_cache = nullptr;  // (B, t_max, H*D)
  const Real* v_cache = nullptr;  // (B, t_max, H*D)
  int t_max = 0;
  Real* out = nullptr;  // (B, Tq, H*D)
  Real scale = 0;
};

void attention_decode_cpu(const DecodeArgs<float>& a);
void attention_decode_cpu(const DecodeArgs<double>& a);

// CUDA: one block per (query, head, sequence); the scores of a row live in shared memory
// (4 bytes per cached position: up to 12288 positions), f32 accumulation, head dims 1 to 256.
// past_device, when set, replaces `past` with the value it points to, read by the kernel (a
// decode step captured as a CUDA graph, kernels/decode_state.h): shared memory is then sized
// for t_max, and a value beyond t_max - Tq reads t_max - Tq.
struct DecodeCudaArgs {
  int B = 0, Tq = 0, past = 0, H = 0, D = 0;
  const std::int32_t* past_device = nullptr;
  // Tq = 1 only: the new token's key and value, row b at k_new + b * k_new_stride (heads from
  // column 0), which each block first writes (its own head's D elements) into the caches at row
  // past, then attends over: the cache write of a decode step folded into this kernel, so
  // k_cache and v_cache are written, not only read. Null: the caches already hold them.
  const void* k_new = nullptr;
  const void* v_new = nullptr;
  int k_new_stride = 0, v_new_stride = 0;
  const void* q = nullptr;
  int q_stride = 0;
  const void* k_cache = nullptr;
  const void* v_cache = nullptr;
  int t_max = 0;
  void* out = nullptr;
  float scale = 0;
  DType dtype = DType::f32;
};
void attention_decode_cuda(const DecodeCudaArgs& a, Stream stream);

}  // namespace cugpt::kernels
