// Optimizer offload (the single-device form of DeepSpeed's ZeRO-Offload): the optimizer's f32
// states and master weights live in a host arena, where the cpu's AdamW updates them; the card
// keeps the parameters it computes with, the activations and the gradients, and sends each
// block's gradients to the host as soon as the backward has produced them.
//
// Modes (`--offload`):
// - optimizer: the card holds every gradient. In the last micro-batch of a step, each block's
//   gradients are copied to the host right after its backward (on a copy stream, overlapping the
//   next block's backward); the rest (embeddings, final LayerNorm, head) after the backward.
// - optimizer+gradients: the card holds the gradients outside the blocks and kSlots slots of one
//   block's gradients; block i writes into slot i mod kSlots, whose contents go to the host after
//   its backward (every micro-batch; later micro-batches are added to the host's sum), and the
//   slot is zeroed for block i - kSlots once that copy is done. Only kSlots blocks' gradients
//   are ever on the card.
// Then the host's optimizer (nn/optimizer.h over the host copies) clips by the global norm and
// updates each parameter, and each updated parameter goes back to the card at once, while the
// next ones update. The next forward waits for the last copy.
//
// Host memory, per trainable parameter in registry order: its copy (the parameter's dtype,
// Category::parameter), its gradient (the parameter's dtype), its states (f32) and, for 16-bit
// parameters, its f32 master weight; optimizer+gradients adds kSlots staging copies of one
// block's gradients (Category::gradient) for the micro-batches after the first.
//
// On the cpu device the host arena is ordinary memory and every copy a memcpy: an offloaded step
// gives the bits of the step without offload (tests/test_offload.cpp). On meta nothing moves
// but every allocation is made, so `cugpt memory --offload` predicts both arenas.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/runtime.h"
#include "models/gpt.h"
#include "nn/optimizer.h"

namespace cugpt {

enum class OffloadMode { none, optimizer, optimizer_gradients };
const char* offload_name(OffloadMode mode);  // none, optimizer, optimizer+gradients
OffloadMode parse_offload(const std::string& name);

class Offload {
 public:
  // Blocks whose gradients the card holds at once under optimizer+gradients.
  static constexpr std::size_t kSlots = 2;

  // Allocates the card's gradients in the model's arena, then the host's memory in `host` (a
  // cpu arena for cpu and cuda models, a meta one for meta), in the orders above.
  Offload(const Gpt& model, OptimizerKind kind, OffloadMode mode, std::shared_ptr<Arena> host);
  ~Offload();
  Offload(const Offload&) = delete;
  Offload& operator=(const Offload&) = delete;

  OffloadMode mode() const { return mode_; }
  Arena& host_arena() { return *host_; }
  // What the backward accumulates into.
  Gradients& device_gradients() { return device_grads_; }
  // The host copies of the trainable parameters, under the model's names, and their optimizer
  // states (taken once, by the optimizer that updates the copies).
  const std::vector<NamedParameter>& host_parameters() const { return host_params_; }
  OptimizerState take_host_state();

  // Before a step's first forward: the host copies are taken from the card's parameters if they
  // may differ (the first step, after mark_stale), and (optimizer+gradients) the slots zeroed.
  void begin_step();
  // After the card's parameters changed outside a step (a resume loaded them).
  void mark_stale() { stale_ = true; }
  // The callback the backward calls after each block (micro-batch `micro` of `micros`).
  void after_block(std::size_t block, std::int64_t micro, std::int64_t micros);
  // After the last micro-batch's backward: the gradients outside the blocks to the host; waits
  // until every gradient is there (the host's optimizer reads them next).
  void gradients_to_host();
  Gradients& host_gradients() { return host_grads_; }
  // Parameter i is updated on the host: its copy goes to the card.
  void parameter_updated(std::size_t i);
  // After the update: the card's next kernels wait for the parameters' copies.
  void end_step();

  // Bytes over the bus in the last step (device to host, host to device): what a step at
  // `accum` micro-batches moves, the first step's copy of the parameters not included.
  std::uint64_t d2h_bytes() const { return d2h_; }
  std::uint64_t h2d_bytes() const { return h2d_; }

 private:
  OffloadMode mode_;
  std::shared_ptr<Arena> host_;
  Device device_;
  std::vector<Tensor> params_;                          // the card's trainable parameters
  std::vector<int> block_of_;                           // per parameter: its block, or -1
  std::vector<std::vector<std::size_t>> block_params_;  // per block: its parameters' indices
  Gradients device_grads_;
  std::vector<std::vector<Tensor>> slots_;    // optimizer+gradients: kSlots x a block's grads
  std::vector<std::vector<Tensor>> staging_;  // the same on the host
  std::vector<NamedParameter> host_params_;
  Gradients host_grads_;
  OptimizerState host_state_;
  bool stale_ = true;
  std::uint64_t d2h_ = 0, h2d_ = 0;
  // cuda: the copy stream, events ordering it with the default stream, the pinned host range.
  Stream copy_ = nullptr;
  Event computed_ = nullptr, copied_ = nullptr;
  std::vector<Event> slot_copied_;
  void* pinned_ = nullptr;
  // optimizer+gradients, micro-batches after the first: blocks whose staging copy waits to be
  // added to the host's gradients.
  std::vector<std::size_t> pending_;
  std::size_t slot_of(std::size_t block) const { return block % slots_.size(); }

  void copy(Tensor& dst, const Tensor& src);
  void mark_computed();
  void add_pending(const std::size_t* keep);
  void zero_slot(std::size_t slot);
};

}  // namespace cugpt
