// The persistent memory a training step adds to a model: a gradient per trainable tensor, the
// optimizer's states (AdamW: m and v; SGD with momentum: one buffer) in f32, and f32 master
// weights when the parameters are 16-bit. Allocated in the model's arena under their own
// categories, so the byte totals a report prints are the allocator's.
#pragma once

#include <string>
#include <vector>

#include "nn/gradients.h"
#include "nn/module.h"

namespace cugpt {

enum class OptimizerKind { none, sgd, adamw };
const char* optimizer_name(OptimizerKind k);
OptimizerKind parse_optimizer(const std::string& name);

// What the optimizer owns; the gradients are the store's (nn/gradients.h).
struct OptimizerState {
  std::vector<Tensor> states;          // f32, Category::optimizer_state (AdamW: m then v)
  std::vector<Tensor> master_weights;  // f32, Category::master_weight (16-bit parameters only)
  long skipped_steps = 0;              // optimizer steps not applied (f16 gradient overflow)
};

struct TrainingState {
  Gradients gradients;  // parameter dtype, Category::gradient
  OptimizerState optimizer;
};

// Gradients are allocated for every optimizer except none; states and master weights as the
// optimizer needs them. Only trainable parameters take part. The arena sees, per parameter in
// registry order: its gradient, its states, its master weight (the order of every version so
// far, which the meta = cpu memory tests and the printed figures rest on).
// ZeRO-1 (train/distributed.h): with `owned` (one flag per trainable parameter), states and
// master weights only for the parameters this rank owns; every gradient still.
TrainingState allocate_training_state(const Module& model, OptimizerKind optimizer,
                                      const std::vector<bool>& owned = {});

}  // namespace cugpt
