// The optimizers: AdamW (m, v in f32) and SGD with momentum, over a module's trainable
// parameters, with their gradients and states allocated once in the arena (nn/training_state).
// Decoupled weight decay applies to weight matrices only: biases, LayerNorm parameters and
// embedding tables (and so GPT-2's tied lm_head) are not decayed, as is usual for GPTs.
// Mixed precision: 16-bit parameters are updated through f32 master weights (category
// master_weight); f16 training scales the loss dynamically (DynamicLossScaler) and skips the
// steps whose gradients overflowed. Runs on cpu (f32, f64) and cuda (f32, bf16, f16).
#pragma once

#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nn/communicator.h"
#include "nn/training_state.h"

namespace cugpt {

// Loss scaling: automatic is dynamic for f16 parameters and off otherwise (f32 needs none, bf16
// has f32's exponent range).
enum class LossScaling { automatic, off, dynamic };

// Dynamic loss scaling. The loss, so every gradient, is multiplied by scale() in the backward,
// which keeps small gradients representable in f16; the optimizer divides it out again. A
// non-finite global gradient norm is an overflow: the step is skipped and the scale halves
// (never below kMinScale). After `growth_interval` applied steps in a row it doubles.
class DynamicLossScaler {
 public:
  static constexpr double kMinScale = 1.0 / 65536;
  explicit DynamicLossScaler(double init = 65536.0, long growth_interval = 2000);
  double scale() const { return scale_; }
  long good_steps() const { return good_steps_; }
  long growth_interval() const { return interval_; }
  // With the step's global gradient norm: true when it may be applied (the norm is finite).
  bool update(double grad_norm);
  // A checkpoint's state.
  void restore(double scale, long good_steps);

 private:
  double scale_;
  long interval_;
  long good_steps_ = 0;
};

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::adamw;
  double lr = 3e-4;
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double weight_decay = 0.1;
  double momentum = 0.9;  // sgd
  double clip = 1.0;      // global gradient-norm clipping; 0 turns it off
  LossScaling loss_scaling = LossScaling::automatic;
  double loss_scale_init = 65536.0;        // 2^16
  long loss_scale_growth_interval = 2000;  // applied steps before the scale doubles
};

// ZeRO-1 (train/distributed.h): this rank holds the states of, and updates, only its piece of
// each parameter (`layout`, as given to allocate_training_state); the gradients of those elements
// are reduced here, the others are stale. The global norm adds per-tensor sums of squares in
// parameter order, as the unsharded sum does, each computed by one rank (ShardLayout::norm_rank)
// over the whole tensor with the unsharded code: the other ranks' pieces of a split tensor travel
// to it first (`comm`'s send and receive), so the sum has the unsharded bits on every device.
// A default layout: an unsharded optimizer.
struct OptimizerShard {
  ShardLayout layout;
  Communicator* comm = nullptr;
};

// One optimizer state tensor under its checkpoint name (its parameter's shape), and the piece of
// it this rank holds.
struct StateSlot {
  std::string name;
  Shape shape;
  std::size_t param = 0;           // the trainable parameter's index
  const Tensor* tensor = nullptr;  // null: this rank holds none of it
  std::int64_t first = 0;          // the element of the full state where `tensor` starts
};

class Optimizer {
 public:
  // Takes the states allocate_training_state made beside the model's gradients (make_training
  // does both).
  Optimizer(const Module& model, const OptimizerOptions& options, OptimizerState state,
            OptimizerShard shard = {});
  // Over tensors that are not a module's (the host copies of optimizer offload,
  // train/offload.h): `params` as a module's trainable parameters in registry order, `decay` one
  // flag per parameter (decay_flags of the module they mirror).
  Optimizer(std::vector<NamedParameter> params, std::vector<bool> decay,
            const OptimizerOptions& options, OptimizerState state, OptimizerShard shard = {});

  // With the gradients of the model's trainable parameters (the store allocated with the
  // states): clips by the global norm (if options.clip > 0) after multiplying the gradients by
  // grad_scale / loss_scale(), updates every parameter at learning rate lr, and returns the
  // global norm of the scaled gradients before clipping. With loss scaling, a non-finite norm
  // skips the update (the step still counts; skipped_steps() counts it too) and lowers the scale.
  // `updated(i)`, if given, runs as soon as parameter i holds its new value (offload copies it
  // to the card there, while the next ones update).
  double step(Gradients& grads, double lr, double grad_scale = 1.0,
              const std::function<void(std::size_t)>& updated = {});
  long steps() const { return steps_; }
  void set_steps(long steps) { steps_ = steps; }
  const OptimizerOptions& options() const { return options_; }

  // What the backward multiplies the loss by (1 without loss scaling); step() divides it out.
  double loss_scale() const { return scaling_ ? scaler_.scale() : 1.0; }
  bool loss_scaling() const { return scaling_; }
  DynamicLossScaler& scaler() { return scaler_; }
  const DynamicLossScaler& scaler() const { return scaler_; }
  long skipped_steps() const { return state_.skipped_steps; }
  void set_skipped_steps(long n) { state_.skipped_steps = n; }
  bool last_step_skipped() const { return last_skipped_; }

  // f32 master weights of 16-bit parameters: copied from the parameters before the first update
  // unless a checkpoint supplied them (call this after loading them into named_state()).
  void master_weights_loaded() { master_ready_ = true; }
  const std::vector<Tensor>& master_weights() const { return state_.master_weights; }

  // The optimizer's state tensors under checkpoint names ("optimizer.m.<param>", ...,
  // "optimizer.master.<param>" for 16-bit parameters); sharded, this rank's only.
  std::vector<std::pair<std::string, Tensor>> named_state() const;
  // Every state of every rank, in named_state()'s order for an unsharded optimizer.
  std::vector<StateSlot> state_slots() const;
  // Whether this rank updates (some of) trainable parameter i (always, unsharded), and which
  // of its elements.
  bool owns(std::size_t i) const { return !piece_[i].empty(); }
  const ElementRange& piece(std::size_t i) const { return piece_[i]; }
  bool sharded() const { return shard_.layout.sharded(); }
  const ShardLayout& layout() const { return shard_.layout; }
  // Whether the parameter is decayed (for tests and reports).
  bool decays(const Tensor& param) const;
  const std::vector<NamedParameter>& parameters() const { return params_; }

 private:
  OptimizerOptions options_;
  std::vector<NamedParameter> params_;
  OptimizerState state_;
  std::vector<bool> decay_;
  std::vector<int> master_of_;  // per parameter: its master weight, or -1
  std::vector<int> state_of_;   // per parameter: its first state's slot / states per parameter
  OptimizerShard shard_;
  std::vector<ElementRange> piece_;  // per parameter: this rank's elements (all, unsharded)
  std::unordered_map<const void*, std::size_t> index_;
  long steps_ = 0;
  bool scaling_ = false;
  DynamicLossScaler scaler_;
  bool last_skipped_ = false;
  bool master_ready_ = false;

  double global_squares(Gradients& grads) const;
  // ZeRO-1: the other ranks' reduced pieces of split parameter i into this rank's gradient, if
  // this rank sums its squares, or this rank's piece to the one that does.
  void gather_for_norm(std::size_t i, Tensor& grad) const;
  Tensor& master_of(std::size_t i);
  Tensor& state(std::size_t i, std::size_t k) {
    return state_.states[static_cast<std::size_t>(state_of_[i]) * per_param() + k];
  }
  const Tensor& state(std::size_t i, std::size_t k) const {
    return state_.states[static_cast<std::size_t>(state_of_[i]) * per_param() + k];
  }
  std::size_t per_param() const { return options_.kind == OptimizerKind::adamw ? 2 : 1; }
  const Tensor& master_of(std::size_t i) const {
    return state_.master_weights[static_cast<std::size_t>(master_of_[i])];
  }
  void update(std::size_t i, Tensor& g, double lr, double scale, long applied_steps);
};

// A model's gradient store and its optimizer, allocated together (allocate_training_state's
// order). The training loop passes `grads` to the backward and to opt.step.
struct Training {
  Gradients grads;
  Optimizer opt;
};
Training make_training(const Module& model, const OptimizerOptions& options);

// Per trainable parameter of the model, in registry order: whether weight decay applies (weight
// matrices, not biases, LayerNorm parameters or embedding tables).
std::vector<bool> decay_flags(const Module& model);

}  // namespace cugpt
