// What a forward pass must compute and move, from the config alone: the FLOPs of its matrix
// products and attention, and a lower bound on the bytes it moves. Benchmarks divide these by
// the measured time to report achieved TFLOP/s and GB/s against the device's ceilings.
#pragma once

#include <cstdint>

#include "kernels/dtype.h"
#include "models/model.h"

namespace cugpt {

struct ForwardCost {
  double flops = 0;         // 2 per multiply-add: linear layers, lm_head, QK^T and PV
  double weight_bytes = 0;  // every parameter read once
  double min_bytes = 0;     // weights + the activations an ideally fused forward must touch
};

// A forward of B sequences of T tokens; causal models count only the keys each query sees.
// Weight bytes are the registry's (model.dtype()); the model may live on any device.
ForwardCost forward_cost(const Model& model, std::int64_t B, std::int64_t T);

// One decode step of B sequences at context length `context` (the new token included): the
// weights and the KV cache read once, which bounds batch-1 decode speed from below.
ForwardCost decode_cost(const Model& model, std::int64_t B, std::int64_t context);

}  // namespace cugpt
