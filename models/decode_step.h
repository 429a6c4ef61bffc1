// A decode step with no host in it (docs/generation.md, "Decode steps on the device"). The
// rows' current tokens and positions live on the device; a step embeds them, runs every layer
// against the KV cache at the position the device holds (kernels/decode_state.h), samples the
// next ids on the device into the tokens' own buffer (DeviceSampler::sample_into) and moves the
// positions on. Nothing in a step waits for the device or copies from the host, so the next step
// can be enqueued before the last one's ids are read.
//
// On cuda the step runs on its own non-blocking stream (the legacy default stream cannot be
// captured). Mode::graph captures the first step as a CUDA graph and replays it per token; while
// the step object lives, the arena keeps every block the capture placed claimed
// (Category::workspace), so no later allocation can land where the graph writes. Mode::eager
// launches the same kernels one by one (the comparison, and the fallback). The ids come back
// through page-locked memory, asynchronously, up to kSlots steps behind. On the cpu both modes
// run the step eagerly: the graph's logic, testable on any machine; the first graph step still
// logs and claims its blocks as a capture does, so that the meta device, which only allocates,
// predicts what a card holds (`cugpt memory --mode generate --decode graph`).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/runtime.h"
#include "models/device_sampler.h"
#include "models/gpt.h"

namespace cugpt {

class DecodeStep {
 public:
  enum class Mode { eager, graph };
  static constexpr int kSlots = 4;  // steps in flight before their ids must be read

  // tokens: each row's id at position cache.length(), the first step's input. The model, cache
  // and sampler must outlive the step; the sampler's rows are the cache's. A model with hooks
  // attached is refused (an Error): the step would not run them.
  // fuse_ln: the step's LayerNorms folded into the products after them and the residual adds
  // into the products before them (Gpt::forward_step); with a greedy sampler, also the argmax
  // into the head's product where the sizes allow (Gpt::forward_step_greedy; fused_greedy()).
  DecodeStep(const Gpt& model, KvCache& cache, DeviceSampler& sampler,
             const std::vector<std::int32_t>& tokens, Mode mode, bool fuse_ln = false);
  ~DecodeStep();
  DecodeStep(const DecodeStep&) = delete;
  DecodeStep& operator=(const DecodeStep&) = delete;

  // Enqueues one step: an Error when the cache is full or kSlots steps wait to be read.
  void enqueue();
  // The ids the oldest unread step sampled (B), waiting for them.
  std::vector<std::int32_t> next_ids();
  int pending() const { return pending_; }
  // The head's product and the greedy pick are one op (no logits are stored).
  bool fused_greedy() const { return keys_.defined(); }
  // One step as captured (Mode::graph on cuda, after the first enqueue): kernel nodes (cuBLAS's
  // included) and all nodes; -1 otherwise.
  int kernels_per_step() const { return graph_.exec ? graph_.kernels : -1; }
  int nodes_per_step() const { return graph_.exec ? graph_.nodes : -1; }
  // Bytes the arena holds for the captured graph's buffers (0 before the first graph step or in
  // eager mode; on the cpu and meta what a card would hold).
  std::uint64_t held_bytes() const;
  // Host time the capture and instantiation took (0 without one): not a step's cost.
  double capture_ms() const { return capture_ms_; }

 private:
  void run();  // one step's ops on the current stream
  void capture();
  void release() noexcept;

  const Gpt& model_;
  KvCache& cache_;
  DeviceSampler& sampler_;
  Mode mode_;
  bool fuse_ln_;
  std::int64_t B_;
  bool cuda_;
  std::shared_ptr<Arena> arena_;
  Tensor tokens_, positions_;       // (B) i32 each on the model's device
  Tensor keys_;                     // fused_greedy: the rows' argmax keys (B u64 as 2B i32)
  std::vector<std::int32_t> host_;  // kSlots x B ids, page-locked on cuda
  Stream stream_ = nullptr;
  bool registered_ = false;  // host_ page-locked
  std::vector<Event> done_;  // one per slot
  CapturedGraph graph_;
  std::vector<Block> held_;
  bool captured_ = false;
  int first_ = 0, pending_ = 0;  // the oldest unread slot, slots waiting
  double capture_ms_ = 0;
};

}  // namespace cugpt
