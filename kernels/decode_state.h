// decode_state: the two ops that let a decode step run with no host in it (models/decode_step.h).
// The step's position — the KV cache's length before it — lives on the device, so a captured
// CUDA graph replays with the same launch arguments every token:
//  - cache_write puts the new tokens' keys or values into the cache at the length the device
//    holds (kernels/copy_rows.h does it at a length the host knows);
//  - advance_positions moves every row's position on by `delta` at the end of a step.
// Rows that would fall beyond the cache are not written (the host bounds the step count; this is
// the memory guard should a device value be wrong).
#pragma once

#include <cstdint>

#include "kernels/runtime.h"

namespace cugpt::kernels {

struct CacheWriteArgs {
  int B = 0, Tq = 0;          // sequences, new tokens per sequence
  int C = 0;                  // elements written per token
  const void* src = nullptr;  // (B, Tq, src_stride), the C elements from column src_col
  int src_stride = 0, src_col = 0;
  void* cache = nullptr;  // (B, t_max, C)
  int t_max = 0;
  const std::int32_t* past = nullptr;  // one value: the cached length, on the cache's device
  int elem_size = 0;                   // 2, 4 or 8 bytes
};

void cache_write_cpu(const CacheWriteArgs& a);
void cache_write_cuda(const CacheWriteArgs& a, Stream stream);

// positions[i] += delta for i in [0, n).
void advance_positions_cpu(std::int32_t* positions, int n, int delta);
void advance_positions_cuda(std::int32_t* positions, int n, int delta, Stream stream);

// The host checks both run.
void check_cache_write(const CacheWriteArgs& a);

}  // namespace cugpt::kernels
