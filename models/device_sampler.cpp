#include "models/device_sampler.h"

#include <cstring>

#include "nn/backend.h"

namespace cugpt {

namespace {
// i32 tensors hold every buffer (ids, flags, and the 8-byte streams and weights as pairs).
Tensor buffer(const Tensor& like, std::int64_t words) {
  return Tensor::zeros(like.arena_ptr(), {words}, DType::i32, Category::workspace);
}
}  // namespace

void check_device_sampler_dtype(DType dtype) {
  if (dtype == DType::f64)
    throw Error(
        "--dtype f64: the device sampler (--sampler device, --decode device, graph or fused) "
        "takes f32, bf16 or f16 logits; f64 samples on the host (--sampler host, --decode "
        "host)");
}

DeviceSampler::DeviceSampler(const Tensor& like, std::int64_t B, std::int64_t V,
                             const SamplingOptions& o, const std::vector<std::uint64_t>& streams)
    : B_(B), V_(V) {
  if (B <= 0 || V <= 0 || static_cast<std::int64_t>(streams.size()) != B)
    throw Error("device sampler: " + std::to_string(streams.size()) + " streams for " +
                std::to_string(B) + " rows");
  if (V > (std::int64_t{1} << 30) || B > (std::int64_t{1} << 20))
    throw Error("device sampler: B x V = " + std::to_string(B) + " x " + std::to_string(V) +
                " is beyond what one launch takes");
  params_.temperature = o.temperature;
  params_.top_k = static_cast<std::int32_t>(std::min<std::int64_t>(o.top_k, V));
  params_.top_p = o.top_p;
  ids_ = buffer(like, B);
  states_ = buffer(like, 2 * B);
  active_ = buffer(like, B);
  const std::size_t ws =
      kernels::sampling_workspace_bytes(static_cast<int>(B), static_cast<int>(V));
  workspace_ = buffer(like, static_cast<std::int64_t>((ws + 3) / 4));
  if (!like.device().is_meta()) states_.copy_from_host(streams.data(), streams.size() * 8);
}

void DeviceSampler::check_logits(const Tensor& logits) const {
  check_device_sampler_dtype(logits.dtype());
  if (logits.numel() != B_ * V_)
    throw Error("device sampler: logits of " + std::to_string(logits.numel()) + " values for " +
                std::to_string(B_) + " rows of " + std::to_string(V_));
}

kernels::SamplingArgs DeviceSampler::args(const Tensor& logits, void* out, const void* active) {
  kernels::SamplingArgs a;
  a.B = static_cast<int>(B_);
  a.V = static_cast<int>(V_);
  a.ld = static_cast<int>(V_);
  a.logits = logits.data();
  a.dtype = logits.dtype();
  a.ids = static_cast<std::int32_t*>(out);
  a.rng_states = static_cast<std::uint64_t*>(states_.data());
  a.params = params_;
  a.active = static_cast<const std::int32_t*>(active);
  a.workspace = workspace_.data();
  a.workspace_bytes = workspace_.nbytes();
  return a;
}

std::vector<std::int32_t> DeviceSampler::sample(const Tensor& logits,
                                                const std::vector<char>& active) {
  if (static_cast<std::int64_t>(active.size()) != B_)
    throw Error("device sampler: " + std::to_string(active.size()) + " flags for " +
                std::to_string(B_) + " rows");
  std::vector<std::int32_t> ids(static_cast<std::size_t>(B_), 0);
  check_logits(logits);
  const Backend* b = byte_backend(logits);
  if (!b) return ids;  // meta: the buffers are the whole of it
  const kernels::SamplingArgs a = args(logits, ids_.data(), active_.data());
  std::vector<std::int32_t> flags(active.begin(), active.end());
  active_.copy_from_host(flags.data(), flags.size() * 4);
  b->sample_tokens(a);
  ids_.copy_to_host(ids.data(), ids.size() * 4);  // the one copy back: B ids
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (!active[i]) ids[i] = 0;
  return ids;
}

void DeviceSampler::sample_into(const Tensor& logits, Tensor& ids) {
  if (ids.dtype() != DType::i32 || ids.numel() != B_ || ids.device() != logits.device())
    throw Error("device sampler: ids " + ids.shape().str() + " " + dtype_name(ids.dtype()) +
                " on " + ids.device().str() + " for " + std::to_string(B_) + " rows on " +
                logits.device().str());
  check_logits(logits);
  if (const Backend* b = byte_backend(logits)) b->sample_tokens(args(logits, ids.data(), nullptr));
}

std::vector<std::uint64_t> DeviceSampler::streams() const {
  std::vector<std::uint64_t> out(static_cast<std::size_t>(B_), 0);
  if (!states_.device().is_meta()) states_.copy_to_host(out.data(), out.size() * 8);
  return out;
}

}  // namespace cugpt
