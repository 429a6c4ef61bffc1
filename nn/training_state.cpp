#include "nn/training_state.h"

#include <utility>

namespace cugpt {

const char* optimizer_name(OptimizerKind k) {
  switch (k) {
    case OptimizerKind::none:
      return "none";
    case OptimizerKind::sgd:
      return "sgd";
    case OptimizerKind::adamw:
      return "adamw";
  }
  return "?";
}

OptimizerKind parse_optimizer(const std::string& name) {
  if (name == "none") return OptimizerKind::none;
  if (name == "sgd") return OptimizerKind::sgd;
  if (name == "adamw") return OptimizerKind::adamw;
  throw Error("unknown optimizer '" + name + "' (expected adamw, sgd or none)");
}

TrainingState allocate_training_state(const Module& model, OptimizerKind optimizer,
                                      const std::vector<bool>& owned) {
  TrainingState s;
  if (optimizer == OptimizerKind::none) return s;
  std::vector<Tensor> params, grads;
  const int states_per_param = optimizer == OptimizerKind::adamw ? 2 : 1;
  std::size_t index = 0;
  for (const auto& p : model.named_parameters()) {
    if (!p.trainable) continue;
    const Tensor& w = p.tensor;
    const auto& arena = w.arena_ptr();
    params.push_back(w);
    grads.push_back(zero_gradient(w));
    const bool mine = owned.empty() || (index < owned.size() && owned[index]);
    ++index;
    if (!mine) continue;
    for (int i = 0; i < states_per_param; ++i)
      s.optimizer.states.push_back(
          Tensor::zeros(arena, w.shape(), DType::f32, Category::optimizer_state));
    if (dtype_size(w.dtype()) < 4)
      s.optimizer.master_weights.push_back(
          Tensor::empty(arena, w.shape(), DType::f32, Category::master_weight));
  }
  if (!owned.empty() && owned.size() != params.size())
    throw Error("training state: " + std::to_string(owned.size()) + " ownership flags for " +
                std::to_string(params.size()) + " trainable parameters");
  s.gradients = Gradients(params, std::move(grads));
  return s;
}

}  // namespace cugpt
