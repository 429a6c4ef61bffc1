// The persistent memory a training step adds to a model: a gradient per trainable tensor, the
// optimizer's states (AdamW: m and v; SGD with momentum: one buffer) in f32, and f32 master
// weights when the parameters are 16-bit. Allocated in the model's arena under their own
// categories, so the byte totals a report prints are the allocator's.
#pragma once

#include <cstdint>
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

// Elements [first, last) of one tensor's flattened data.
struct ElementRange {
  std::int64_t first = 0, last = 0;
  std::int64_t size() const { return last - first; }
  bool empty() const { return last <= first; }
};

// ZeRO-1 (train/distributed.h): the trainable parameters flattened in registry order, N elements,
// cut into `world` runs of S = ceil(N / world) elements (no rounding: each piece is an allocation
// of its own, which the arena rounds up to 256 bytes). Rank r holds the optimizer states and master
// weights of flat elements [r S, min(N, (r + 1) S)), as DeepSpeed and PyTorch's ZeRO do, so a
// tensor may be split between ranks and no rank's share is bounded below by the largest tensor.
// Default-constructed: unsharded (one rank holds everything).
class ShardLayout {
 public:
  ShardLayout() = default;
  // `sizes`: the trainable parameters' element counts, in registry order.
  ShardLayout(std::vector<std::int64_t> sizes, int world, int rank);
  static ShardLayout of(const Module& model, int world, int rank);

  bool sharded() const { return world_ > 1; }
  int world() const { return world_; }
  int rank() const { return rank_; }
  std::size_t parameters() const { return sizes_.size(); }
  std::int64_t size(std::size_t i) const { return sizes_[i]; }
  std::int64_t total() const { return total_; }
  // Rank r's run of the flat vector.
  ElementRange flat(int r) const;
  // The elements of parameter i that rank r holds (empty: none); this rank's by default.
  ElementRange piece(std::size_t i, int r) const;
  ElementRange piece(std::size_t i) const { return piece(i, rank_); }
  // Whether parameter i is wholly held by one rank.
  bool whole(std::size_t i) const;
  // The rank that sums parameter i's squares for the global norm (nn/optimizer.h): the one that
  // holds most of it (the lowest of equals), so that the fewest elements travel to it.
  int norm_rank(std::size_t i) const;

 private:
  std::vector<std::int64_t> sizes_, offsets_;
  int world_ = 1, rank_ = 0;
  std::int64_t total_ = 0, per_rank_ = 0;
};

struct TrainingState {
  Gradients gradients;  // parameter dtype, Category::gradient
  OptimizerState optimizer;
};

// Gradients are allocated for every optimizer except none; states and master weights as the
// optimizer needs them. Only trainable parameters take part. The arena sees, per parameter in
// registry order: its gradient, its states, its master weight (the order of every version so
// far, which the meta = cpu memory tests and the printed figures rest on).
// ZeRO-1: with a sharded layout, states and master weights only for this rank's piece of each
// parameter (a whole parameter keeps its shape, a part is 1-D); every gradient still.
TrainingState allocate_training_state(const Module& model, OptimizerKind optimizer,
                                      const ShardLayout& shard = {});

}  // namespace cugpt
