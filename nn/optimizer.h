// The optimizers: AdamW (m, v in f32) and SGD with momentum, over a module's trainable
// parameters, with their gradients and states allocated once in the arena (nn/training_state).
// Decoupled weight decay applies to weight matrices only: biases, LayerNorm parameters and
// embedding tables (and so GPT-2's tied lm_head) are not decayed, as is usual for GPTs.
#pragma once

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nn/training_state.h"

namespace cugpt {

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::adamw;
  double lr = 3e-4;
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double weight_decay = 0.1;
  double momentum = 0.9;  // sgd
  double clip = 1.0;      // global gradient-norm clipping; 0 turns it off
};

class Optimizer {
 public:
  Optimizer(const Module& model, const OptimizerOptions& options);

  // The gradient tensor of a trainable parameter (the same storage as the registry's tensor).
  Tensor& grad(const Tensor& param);
  void zero_grad();
  // Clips by the global norm (if options.clip > 0) after multiplying the gradients by
  // grad_scale, updates every parameter at learning rate lr, and returns the global norm of
  // the scaled gradients before clipping.
  double step(double lr, double grad_scale = 1.0);
  long steps() const { return steps_; }
  void set_steps(long steps) { steps_ = steps; }
  const OptimizerOptions& options() const { return options_; }

  // The optimizer's state tensors under checkpoint names ("optimizer.m.<param>", ...).
  std::vector<std::pair<std::string, Tensor>> named_state() const;
  // Whether the parameter is decayed (for tests and reports).
  bool decays(const Tensor& param) const;

 private:
  OptimizerOptions options_;
  std::vector<NamedParameter> params_;
  TrainingState state_;
  std::vector<bool> decay_;
  std::unordered_map<const void*, std::size_t> index_;
  long steps_ = 0;
};

}  // namespace cugpt
