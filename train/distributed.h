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
// Overlap (`overlap`, the default): the exchange is cut into segments, one per block's
// parameters (contiguous in registry order) and the ranges outside the blocks (embeddings, final
// LayerNorm, head). As the backward finishes block i (the last micro-batch's after_block),
// block_done(i) queues its segment for the communication thread this object owns, which runs the
// rounds above on it while the backward goes on with block i-1; reduce() waits for the queue and
// exchanges the rest. Only that thread calls the communicator while the backward runs (MPI is
// initialised with MPI_THREAD_SERIALIZED); every rank queues the segments in the same order. An
// element's sum is the same rank-order sum in any segment, so the bits do not depend on
// `overlap`, and the segments reuse the bucket and its scratch: the arena is the same too. A
// communicator that may not be called from another thread, or a cuda model, exchanges each
// segment at once in block_done (the same order, no thread).
//
// ZeRO-1 (`zero`): the ranges are ShardLayout's (nn/training_state.h): rank r holds the
// optimizer states and master weights of flat elements [r S, (r + 1) S), S = ceil(N / world),
// wherever the parameters' boundaries fall (nn/optimizer.h, OptimizerShard), and is the only one
// to receive their summed gradients (reduce-scatter, no all-gather). After the update each rank's
// run of updated parameter elements is all-gathered (gather_parameters).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "nn/communicator.h"
#include "nn/gradients.h"
#include "nn/module.h"
#include "nn/training_state.h"

namespace cugpt {

// The default bucket: 8 MiB a round, all ranks' pieces together (and as much again of scratch).
constexpr std::uint64_t kDefaultBucketBytes = 8ull << 20;

struct SyncOptions {
  bool zero = false;
  // The bytes exchanged a round, a piece of bucket_bytes / N per rank; the bucket and its
  // scratch take that much each (less when the gradients are smaller).
  std::uint64_t bucket_bytes = kDefaultBucketBytes;
  // Each block's gradients exchanged as soon as its backward is done (block_done), the rest
  // after the backward. Needs `blocks`.
  bool overlap = false;
  // The blocks, in the order of their indices (block_done(i) is blocks[i]'s).
  std::vector<const Module*> blocks;
};

class GradientSync {
 public:
  GradientSync(const Module& model, Communicator& comm, const SyncOptions& options);
  GradientSync(const Module& model, Communicator& comm, bool zero,
               std::uint64_t bucket_bytes = kDefaultBucketBytes);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // Overlap: block i's gradients in `grads` are final for this step; its exchange starts (on
  // the communication thread). Every rank calls it for the same blocks in the same order; the
  // block's gradients must not be written again until reduce() returns.
  void block_done(std::size_t block, Gradients& grads);
  // Sums the ranks' gradients: into every rank's store, or (ZeRO) into the owners' only. With
  // overlap, waits for the blocks' exchanges and then exchanges what no block_done started.
  void reduce(Gradients& grads);
  // ZeRO: every owner's updated parameters to every rank.
  void gather_parameters();

  std::int64_t piece_elements() const { return piece_; }
  std::uint64_t buffer_bytes() const { return bucket_.nbytes() + scratch_.nbytes(); }
  // Whether the blocks' exchanges run on a thread of their own (overlap on a host device).
  bool threaded() const { return worker_.joinable(); }

 private:
  struct Segment {
    std::int64_t first = 0, last = 0;  // flat [first, last)
  };
  Communicator& comm_;
  bool zero_;
  std::vector<Tensor> params_;
  std::vector<std::int64_t> offsets_;  // flat start of each parameter
  std::vector<std::int64_t> lo_, hi_;  // each rank's flat range
  std::int64_t piece_ = 1;
  Tensor bucket_, scratch_;
  // Overlap: block i's segment, and the segments outside the blocks, in flat order.
  std::vector<Segment> blocks_, rest_;
  std::vector<bool> started_;  // this step: the blocks whose exchange has started

  // The communication thread: segments (block indices) queued, the one in flight, an error.
  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<std::size_t> queue_;
  bool busy_ = false, stop_ = false;
  std::exception_ptr error_;
  std::vector<Tensor> step_grads_;  // the gradients of the step in flight

  // Copies flat elements [first, first + n) between the tensors and buf.
  void copy_flat(std::vector<Tensor>& tensors, std::int64_t first, std::int64_t n, char* buf,
                 bool into_buffer) const;
  // Runs body(counts, starts) once per round over the ranks' ranges [lo[r], hi[r]).
  template <typename F>
  void rounds(const std::vector<std::int64_t>& lo, const std::vector<std::int64_t>& hi,
              F&& body) const;
  // Sums the ranks' gradients of flat [s.first, s.last): reduce-scatter (and all-gather).
  void exchange(std::vector<Tensor>& grads, Segment s);
  void work();       // the communication thread's loop
  void wait_idle();  // until the queue is empty and no exchange runs; rethrows its error
};

}  // namespace cugpt
