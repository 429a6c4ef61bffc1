#include "train/offload.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "kernels/dtype.h"

namespace cugpt {

const char* offload_name(OffloadMode mode) {
  switch (mode) {
    case OffloadMode::none:
      return "none";
    case OffloadMode::optimizer:
      return "optimizer";
    case OffloadMode::optimizer_gradients:
      return "optimizer+gradients";
  }
  return "?";
}

OffloadMode parse_offload(const std::string& name) {
  if (name == "none") return OffloadMode::none;
  if (name == "optimizer") return OffloadMode::optimizer;
  if (name == "optimizer+gradients") return OffloadMode::optimizer_gradients;
  throw Error("--offload '" + name + "' (expected none, optimizer or optimizer+gradients)");
}

namespace {

// dst += src, element-wise, on host memory of one dtype (16-bit through f32, rounded back).
void add_on_host(Tensor& dst, const Tensor& src) {
  const auto n = static_cast<std::size_t>(dst.numel());
  const DType t = dst.dtype();
  if (t == DType::f32) {
    float* d = dst.data_as<float>();
    const float* s = src.data_as<float>();
    for (std::size_t i = 0; i < n; ++i) d[i] += s[i];
  } else if (t == DType::f64) {
    double* d = dst.data_as<double>();
    const double* s = src.data_as<double>();
    for (std::size_t i = 0; i < n; ++i) d[i] += s[i];
  } else {
    auto* d = static_cast<std::uint16_t*>(dst.data());
    const auto* s = static_cast<const std::uint16_t*>(src.data());
    const bool bf = t == DType::bf16;
    for (std::size_t i = 0; i < n; ++i) {
      const float a = bf ? bf16_bits_to_float(d[i]) : f16_bits_to_float(d[i]);
      const float b = bf ? bf16_bits_to_float(s[i]) : f16_bits_to_float(s[i]);
      d[i] = bf ? float_to_bf16_bits(a + b) : float_to_f16_bits(a + b);
    }
  }
}

}  // namespace

Offload::Offload(const Gpt& model, OptimizerKind kind, OffloadMode mode,
                 std::shared_ptr<Arena> host)
    : mode_(mode), host_(std::move(host)), device_(model.wte().weight().device()) {
  if (mode == OffloadMode::none) throw Error("offload: mode none offloads nothing");
  if (kind == OptimizerKind::none) throw Error("offload: training needs an optimizer");
  if (!host_) throw Error("offload: no host arena");
  if (host_->device().is_cuda() || host_->device().is_meta() != device_.is_meta())
    throw Error(std::string("offload: the host arena of a ") + device_.str() +
                " model must be on " + (device_.is_meta() ? "meta" : "the cpu"));
  std::vector<NamedParameter> named;
  for (const auto& p : model.named_parameters())
    if (p.trainable) named.push_back(p);
  std::unordered_map<const void*, std::size_t> index;
  for (std::size_t i = 0; i < named.size(); ++i) {
    params_.push_back(named[i].tensor);
    index.emplace(named[i].tensor.storage_id(), i);
  }
  block_of_.assign(params_.size(), -1);
  block_params_.resize(model.blocks().size());
  for (std::size_t b = 0; b < model.blocks().size(); ++b)
    for (const auto& p : model.blocks()[b].named_parameters()) {
      auto it = index.find(p.tensor.storage_id());
      if (!p.trainable || it == index.end() || block_of_[it->second] >= 0) continue;
      block_of_[it->second] = static_cast<int>(b);
      block_params_[b].push_back(it->second);
    }

  // The card: every gradient, or those outside the blocks and then the slots.
  std::vector<Tensor> grads(params_.size());
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (mode == OffloadMode::optimizer || block_of_[i] < 0) grads[i] = zero_gradient(params_[i]);
  if (mode == OffloadMode::optimizer_gradients) {
    const std::size_t n = std::min(kSlots, block_params_.size());
    for (std::size_t s = 0; s < n; ++s) {
      slots_.emplace_back();
      for (const std::size_t i : block_params_[s]) slots_[s].push_back(zero_gradient(params_[i]));
    }
    for (std::size_t b = 0; b < block_params_.size(); ++b) {
      const std::vector<std::size_t>& mine = block_params_[b];
      const std::vector<Tensor>& slot = slots_[slot_of(b)];
      if (mine.size() != slot.size())
        throw Error(
            "offload: the blocks' parameters differ; optimizer+gradients needs equal blocks");
      for (std::size_t j = 0; j < mine.size(); ++j) {
        if (params_[mine[j]].shape() != slot[j].shape() ||
            params_[mine[j]].dtype() != slot[j].dtype())
          throw Error(
              "offload: the blocks' parameters differ; optimizer+gradients needs equal blocks");
        grads[mine[j]] = slot[j];
      }
    }
  }
  device_grads_ = Gradients(params_, std::move(grads));

  // The host: per parameter its copy, gradient, states and master; then the staging slots.
  const int states = kind == OptimizerKind::adamw ? 2 : 1;
  std::vector<Tensor> host_grads;
  for (const NamedParameter& p : named) {
    const Tensor& w = p.tensor;
    host_params_.push_back(
        {p.name, Tensor::empty(host_, w.shape(), w.dtype(), Category::parameter), true});
    host_grads.push_back(Tensor::zeros(host_, w.shape(), w.dtype(), Category::gradient));
    for (int k = 0; k < states; ++k)
      host_state_.states.push_back(
          Tensor::zeros(host_, w.shape(), DType::f32, Category::optimizer_state));
    if (dtype_size(w.dtype()) < 4)
      host_state_.master_weights.push_back(
          Tensor::empty(host_, w.shape(), DType::f32, Category::master_weight));
  }
  std::vector<Tensor> host_tensors;
  for (const NamedParameter& p : host_params_) host_tensors.push_back(p.tensor);
  host_grads_ = Gradients(host_tensors, host_grads);
  for (const auto& slot : slots_) {
    staging_.emplace_back();
    for (const Tensor& g : slot)
      staging_.back().push_back(Tensor::empty(host_, g.shape(), g.dtype(), Category::gradient));
  }

  if (device_.is_cuda()) {
    // Pin the host range just allocated (persistent blocks, from the arena's low end), so
    // that the copies run beside the kernels.
    auto* lo = static_cast<char*>(host_params_.front().tensor.data());
    char* hi = lo;
    const auto extend = [&](const Tensor& t) {
      auto* p = static_cast<char*>(const_cast<void*>(t.data()));
      lo = std::min(lo, p);
      hi = std::max(hi, p + t.nbytes());
    };
    for (const Tensor& t : host_tensors) extend(t);
    for (const Tensor& t : host_grads_.tensors()) extend(t);
    for (const Tensor& t : host_state_.states) extend(t);
    for (const Tensor& t : host_state_.master_weights) extend(t);
    for (const auto& slot : staging_)
      for (const Tensor& t : slot) extend(t);
    cuda_host_register(lo, static_cast<std::size_t>(hi - lo));
    pinned_ = lo;
    copy_ = cuda_stream_create_nonblocking();
    computed_ = cuda_event_create();
    copied_ = cuda_event_create();
    for (std::size_t s = 0; s < slots_.size(); ++s) slot_copied_.push_back(cuda_event_create());
  }
}

Offload::~Offload() {
  if (copy_) {
    try {  // nothing may still be copying into or out of the pages unpinned below
      cuda_event_record(copied_, copy_);
      cuda_event_synchronize(copied_);
    } catch (const Error&) {
    }
  }
  for (Event e : slot_copied_) cuda_event_destroy(e);
  cuda_event_destroy(computed_);
  cuda_event_destroy(copied_);
  cuda_stream_destroy(copy_);
  if (pinned_) cuda_host_unregister(pinned_);
}

OptimizerState Offload::take_host_state() {
  if (host_state_.states.empty()) throw Error("offload: the host states were taken already");
  return std::move(host_state_);
}

void Offload::copy(Tensor& dst, const Tensor& src) {
  const std::size_t bytes = src.nbytes();
  (dst.arena_ptr() == host_ ? d2h_ : h2d_) += bytes;
  if (device_.is_meta() || bytes == 0) return;
  if (device_.is_cuda())
    cuda_memcpy_async(dst.data(), src.data(), bytes, copy_);
  else
    std::memcpy(dst.data(), src.data(), bytes);
}

void Offload::mark_computed() {
  if (!copy_) return;
  cuda_event_record(computed_, nullptr);
  cuda_stream_wait(copy_, computed_);
}

void Offload::zero_slot(std::size_t s) {
  if (device_.is_meta()) return;
  if (copy_) cuda_stream_wait(nullptr, slot_copied_[s]);
  for (Tensor& g : slots_[s]) g.zero();
}

void Offload::add_pending(const std::size_t* keep) {
  std::vector<std::size_t> left;
  for (const std::size_t b : pending_) {
    if (keep && b == *keep) {
      left.push_back(b);
      continue;
    }
    if (device_.is_meta()) continue;
    const std::size_t s = slot_of(b);
    if (copy_) cuda_event_synchronize(slot_copied_[s]);
    const std::vector<std::size_t>& mine = block_params_[b];
    for (std::size_t j = 0; j < mine.size(); ++j) add_on_host(host_grads_[mine[j]], staging_[s][j]);
  }
  pending_ = std::move(left);
}

void Offload::begin_step() {
  if (stale_) {
    mark_computed();
    for (std::size_t i = 0; i < params_.size(); ++i) copy(host_params_[i].tensor, params_[i]);
    stale_ = false;
  }
  d2h_ = h2d_ = 0;
  if (mode_ != OffloadMode::optimizer_gradients || device_.is_meta()) return;
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (block_of_[i] < 0) device_grads_[i].zero();
  for (std::size_t s = 0; s < slots_.size(); ++s) zero_slot(s);
}

void Offload::after_block(std::size_t b, std::int64_t micro, std::int64_t micros) {
  const std::vector<std::size_t>& mine = block_params_[b];
  if (mode_ == OffloadMode::optimizer) {
    // The gradients are complete after the last micro-batch's backward of the block.
    if (micro + 1 < micros) return;
    mark_computed();
    for (const std::size_t i : mine) copy(host_grads_[i], device_grads_[i]);
    return;
  }
  const std::size_t s = slot_of(b);
  mark_computed();
  for (std::size_t j = 0; j < mine.size(); ++j)
    copy(micro == 0 ? host_grads_[mine[j]] : staging_[s][j], slots_[s][j]);
  if (copy_) cuda_event_record(slot_copied_[s], copy_);
  if (micro > 0) pending_.push_back(b);
  add_pending(&b);  // the blocks staged before this one: their copies had a block's time
  if (b > 0) {
    // Block b - 1 writes next, into the slot block b - 1 + kSlots used (if there was one).
    if (b - 1 + slots_.size() < block_params_.size()) zero_slot(slot_of(b - 1));
  } else {
    add_pending(nullptr);
    if (micro + 1 < micros)  // the next micro-batch starts from the last block, slots zeroed
      for (std::size_t k = 0; k < slots_.size(); ++k) zero_slot(k);
  }
}

void Offload::gradients_to_host() {
  mark_computed();
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (block_of_[i] < 0) copy(host_grads_[i], device_grads_[i]);
  add_pending(nullptr);
  if (!copy_) return;
  cuda_event_record(copied_, copy_);
  cuda_event_synchronize(copied_);
}

void Offload::parameter_updated(std::size_t i) {
  copy(params_[i], host_params_[i].tensor);
}

void Offload::end_step() {
  // On meta the update does not run (nothing to compute): count the copies it would make.
  if (device_.is_meta())
    for (std::size_t i = 0; i < params_.size(); ++i) copy(params_[i], host_params_[i].tensor);
  if (!copy_) return;
  cuda_event_record(copied_, copy_);
  cuda_stream_wait(nullptr, copied_);
}

}  // namespace cugpt
