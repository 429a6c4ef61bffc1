#include "nn/training_state.h"

#include <algorithm>
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

ShardLayout::ShardLayout(std::vector<std::int64_t> sizes, int world, int rank)
    : sizes_(std::move(sizes)), world_(world), rank_(rank) {
  if (world < 1 || rank < 0 || rank >= world)
    throw Error("shard layout: rank " + std::to_string(rank) + " of " + std::to_string(world));
  for (const std::int64_t n : sizes_) {
    offsets_.push_back(total_);
    total_ += n;
  }
  per_rank_ = (total_ + world - 1) / world;
}

ShardLayout ShardLayout::of(const Module& model, int world, int rank) {
  std::vector<std::int64_t> sizes;
  for (const auto& p : model.named_parameters())
    if (p.trainable) sizes.push_back(p.tensor.numel());
  return ShardLayout(std::move(sizes), world, rank);
}

ElementRange ShardLayout::flat(int r) const {
  if (!sharded()) return {0, total_};
  return {std::min(total_, r * per_rank_), std::min(total_, (r + 1) * per_rank_)};
}

ElementRange ShardLayout::piece(std::size_t i, int r) const {
  const ElementRange f = flat(r);
  const std::int64_t lo = std::max(f.first, offsets_[i]);
  const std::int64_t hi = std::min(f.last, offsets_[i] + sizes_[i]);
  if (hi <= lo) return {0, 0};
  return {lo - offsets_[i], hi - offsets_[i]};
}

bool ShardLayout::whole(std::size_t i) const {
  return piece(i, norm_rank(i)).size() == sizes_[i];
}

int ShardLayout::norm_rank(std::size_t i) const {
  int best = 0;
  std::int64_t most = -1;
  for (int r = 0; r < world_; ++r) {
    const std::int64_t n = piece(i, r).size();
    if (n > most) most = n, best = r;
  }
  return best;
}

TrainingState allocate_training_state(const Module& model, OptimizerKind optimizer,
                                      const ShardLayout& shard) {
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
    if (shard.sharded() && (index >= shard.parameters() || shard.size(index) != w.numel()))
      throw Error("training state: the shard layout is not this model's");
    const ElementRange piece = shard.sharded() ? shard.piece(index) : ElementRange{0, w.numel()};
    ++index;
    if (piece.empty()) continue;
    const Shape shape = piece.size() == w.numel() ? w.shape() : Shape{piece.size()};
    for (int i = 0; i < states_per_param; ++i)
      s.optimizer.states.push_back(
          Tensor::zeros(arena, shape, DType::f32, Category::optimizer_state));
    if (dtype_size(w.dtype()) < 4)
      s.optimizer.master_weights.push_back(
          Tensor::empty(arena, shape, DType::f32, Category::master_weight));
  }
  if (shard.sharded() && shard.parameters() != params.size())
    throw Error("training state: a shard layout of " + std::to_string(shard.parameters()) +
                " parameters for " + std::to_string(params.size()) + " trainable ones");
  s.gradients = Gradients(params, std::move(grads));
  return s;
}

}  // namespace cugpt
