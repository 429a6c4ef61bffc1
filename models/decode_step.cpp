#include "models/decode_step.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace cugpt {

DecodeStep::DecodeStep(const Gpt& model, KvCache& cache, DeviceSampler& sampler,
                       const std::vector<std::int32_t>& tokens, Mode mode, bool fuse_ln)
    : model_(model),
      cache_(cache),
      sampler_(sampler),
      mode_(mode),
      fuse_ln_(fuse_ln),
      B_(cache.batch()),
      cuda_(model.wte().weight().device().is_cuda()),
      arena_(model.wte().weight().arena_ptr()) {
  // Hooks record and replace outputs through the host, which a captured step cannot do and a
  // fused one would partly skip: refused rather than run differently.
  if (model.hooks_attached())
    throw Error(
        "decode step: the model has hooks attached, which a step on the device does not "
        "run (decode on the host)");
  if (static_cast<std::int64_t>(tokens.size()) != B_)
    throw Error("decode step: " + std::to_string(tokens.size()) + " tokens for " +
                std::to_string(B_) + " rows");
  const std::vector<std::int32_t> positions(tokens.size(),
                                            static_cast<std::int32_t>(cache.length()));
  tokens_ = Tensor::empty(arena_, {B_}, DType::i32, Category::workspace);
  positions_ = Tensor::empty(arena_, {B_}, DType::i32, Category::workspace);
  if (fuse_ln && sampler.greedy() && model.greedy_step_fits(B_))
    keys_ = Tensor::zeros(arena_, {2 * B_}, DType::i32, Category::workspace);
  host_.assign(static_cast<std::size_t>(kSlots * B_), 0);
  if (arena_->device().is_meta()) return;  // the allocations are the whole of it
  tokens_.copy_from_host(tokens.data(), tokens.size() * 4);
  positions_.copy_from_host(positions.data(), positions.size() * 4);
  if (!cuda_) return;
  try {
    // What ran before on the legacy stream (the prefill) is done before this stream starts.
    cuda_synchronize();
    stream_ = cuda_stream_create_nonblocking();
    for (int i = 0; i < kSlots; ++i) done_.push_back(cuda_event_create());
    cuda_host_register(host_.data(), host_.size() * 4);
    registered_ = true;
  } catch (...) {
    release();
    throw;
  }
}

DecodeStep::~DecodeStep() {
  release();
}

void DecodeStep::release() noexcept {
  if (cuda_) {
    try {
      if (stream_) cuda_stream_synchronize(stream_);
    } catch (...) {
    }
    cuda_graph_destroy(graph_.exec);
    graph_ = CapturedGraph{};
    for (Event e : done_) cuda_event_destroy(e);
    done_.clear();
    cuda_stream_destroy(stream_);
    stream_ = nullptr;
    if (registered_) cuda_host_unregister(host_.data());
    registered_ = false;
  }
  for (const Block& b : held_) {
    try {
      arena_->free(b);
    } catch (...) {
    }
  }
  held_.clear();
}

void DecodeStep::run() {
  if (keys_.defined()) {
    model_.forward_step_greedy(tokens_, positions_, cache_, keys_);
    ops::argmax_ids(tokens_, keys_, model_.config().vocab_size);
  } else {
    const Tensor logits = model_.forward_step(tokens_, positions_, cache_, fuse_ln_);
    sampler_.sample_into(logits, tokens_);
  }
  ops::advance_positions(positions_, 1);
}

void DecodeStep::capture() {
  const auto start = std::chrono::steady_clock::now();
  arena_->log_placements(true);
  if (cuda_) cuda_capture_begin(stream_);
  try {
    run();  // on cuda recorded, not run; elsewhere run (meta: allocated only)
    if (cuda_) graph_ = cuda_capture_end(stream_);
  } catch (...) {
    if (cuda_) cuda_capture_abort(stream_);
    arena_->log_placements(false);
    throw;
  }
  arena_->log_placements(false);
  // The graph writes where the capture's tensors were, freed now: claim the union of those
  // blocks for as long as the graph lives.
  std::vector<Block> placed = arena_->placements();
  std::sort(placed.begin(), placed.end(),
            [](const Block& a, const Block& b) { return a.offset < b.offset; });
  std::uint64_t lo = 0, hi = 0;
  const auto hold = [&] {
    if (hi > lo) held_.push_back(arena_->claim(lo, hi - lo, Category::workspace));
  };
  for (const Block& b : placed) {
    if (b.size == 0) continue;
    if (b.offset > hi) {
      hold();
      lo = b.offset;
    }
    hi = std::max(hi, b.offset + b.size);
  }
  hold();
  capture_ms_ =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

void DecodeStep::enqueue() {
  if (pending_ == kSlots)
    throw Error("decode step: " + std::to_string(kSlots) + " steps wait for their ids to be read");
  if (cache_.length() + 1 > cache_.t_max())
    throw Error("generation reached " + std::to_string(cache_.length() + 1) +
                " positions; the cache holds " + std::to_string(cache_.t_max()));
  const int slot = (first_ + pending_) % kSlots;
  std::int32_t* ids = host_.data() + slot * B_;
  StreamScope scope(stream_);  // cuda: the step's own stream; elsewhere nothing
  // The first graph step is captured on every device, so that meta, cpu and cuda place the
  // same blocks and hold the same ones after it (cugpt memory --decode graph predicts the
  // card); it advances the cache's host mirror as the step it holds will.
  const bool first_capture = mode_ == Mode::graph && !captured_;
  if (first_capture) {
    capture();
    captured_ = true;
  }
  if (!cuda_) {
    if (!first_capture) run();  // the cpu and meta run every step eagerly
    if (!arena_->device().is_meta()) tokens_.copy_to_host(ids, static_cast<std::size_t>(B_) * 4);
  } else {
    if (mode_ == Mode::eager) {
      run();
    } else {
      if (!first_capture) cache_.advance(1);
      cuda_graph_launch(graph_.exec, stream_);
    }
    cuda_memcpy_async(ids, tokens_.data(), static_cast<std::size_t>(B_) * 4, stream_);
    cuda_event_record(done_[static_cast<std::size_t>(slot)], stream_);
  }
  ++pending_;
}

std::vector<std::int32_t> DecodeStep::next_ids() {
  if (pending_ == 0) throw Error("decode step: no step is waiting to be read");
  if (cuda_) cuda_event_synchronize(done_[static_cast<std::size_t>(first_)]);
  const std::int32_t* ids = host_.data() + first_ * B_;
  std::vector<std::int32_t> out(ids, ids + B_);
  first_ = (first_ + 1) % kSlots;
  --pending_;
  return out;
}

std::uint64_t DecodeStep::held_bytes() const {
  std::uint64_t n = 0;
  for (const Block& b : held_) n += b.size;
  return n;
}

}  // namespace cugpt
