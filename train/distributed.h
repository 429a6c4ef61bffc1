// Data-parallel training: N ranks (processes, one per device), each with the whole model. Every
// optimizer step's global micro-batch of N x B rows is the one a single process at batch N x B
// draws (train/dataset.h: rows depend only on the seed, the step and the row); rank r takes rows
// [r B, (r + 1) B), computes its gradients scaled by 1/N, and the ranks sum them (GradientSync),
// so every rank applies the gradient of the global batch's mean loss.
//
// The exchange goes through two buffers of the arena (category workspace, allocated once beside
// the training state, so a meta run predicts them): the gradients, flattened in registry order,
// are cut into one range per rank; each round packs up to `piece` elements of every rank's range
// into the bucket (`--bucket` bytes in all), reduce-scatters it (each rank sums its piece's N
// copies in rank order, nn/communicator.h) and, without ZeRO, all-gathers the sums back to every
// rank.
//
// ZeRO-1 (`zero`): the ranges follow parameter boundaries (shard_owners): rank r owns the
// parameters of its range, holds their optimizer states and master weights (nn/optimizer.h,
// OptimizerShard) and is the only one to receive their summed gradients (reduce-scatter, no
// all-gather). After the update each owner's parameters are all-gathered (gather_parameters).
#pragma once

#include <cstdint>
#include <vector>

#include "nn/communicator.h"
#include "nn/gradients.h"
#include "nn/module.h"

namespace cugpt {

// The rank that owns each trainable parameter under ZeRO-1: runs of parameters in registry order,
// cut where the running element count first reaches k/N of the total, so each rank holds about
// 1/N of the states (a parameter is never split).
std::vector<int> shard_owners(const Module& model, int world);
std::vector<bool> owned_by(const std::vector<int>& owners, int rank);

// The default bucket: 8 MiB a round, all ranks' pieces together (and as much again of scratch).
constexpr std::uint64_t kDefaultBucketBytes = 8ull << 20;

class GradientSync {
 public:
  // `bucket_bytes`: the bytes exchanged a round, a piece of bucket_bytes / N per rank; the
  // bucket and its scratch take that much each (less when the gradients are smaller).
  GradientSync(const Module& model, Communicator& comm, bool zero,
               std::uint64_t bucket_bytes = kDefaultBucketBytes);

  // Sums the ranks' gradients: into every rank's store, or (ZeRO) into the owners' only.
  void reduce(Gradients& grads);
  // ZeRO: every owner's updated parameters to every rank.
  void gather_parameters();

  std::int64_t piece_elements() const { return piece_; }
  std::uint64_t buffer_bytes() const { return bucket_.nbytes() + scratch_.nbytes(); }

 private:
  Communicator& comm_;
  bool zero_;
  std::vector<Tensor> params_;
  std::vector<std::int64_t> offsets_;  // flat start of each parameter
  std::vector<std::int64_t> lo_, hi_;  // each rank's flat range
  std::int64_t piece_ = 1;
  Tensor bucket_, scratch_;

  // Copies flat elements [first, first + n) between the tensors and buf.
  void copy_flat(std::vector<Tensor>& tensors, std::int64_t first, std::int64_t n, char* buf,
                 bool into_buffer) const;
  // Runs body(counts, starts) once per round (counts and starts per rank).
  template <typename F>
  void rounds(F&& body) const;
};

}  // namespace cugpt
