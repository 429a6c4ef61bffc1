// Sampling where the logits are: each step the rows' logits stay on the device, the device's
// sampler (kernels/sampling.h through the backend; on the cpu its twin) picks one id per row
// from the rows' splitmix64 streams, which live on the device too, and only the B ids come
// back (B x 4 bytes, not the B x V logits). The rule is sample_token's (models/generate.h):
// greedy ids are the same; sampled ids are the same for a seed except when the draw falls within
// about 1e-12 of a cumulative boundary (the sampler's sums are exact fixed-point ones).
// Opt-in (`generate --sampler device`) until it has run on a GPU.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/sampling.h"
#include "models/generate.h"

namespace cugpt {

// The device sampler's kernels read f32, bf16 or f16 logits; an f64 model samples on the host.
// Throws a one-line Error for f64, so that a command refuses `--dtype f64 --sampler device`
// before it loads a model (the kernel's own check is an internal message).
void check_device_sampler_dtype(DType dtype);

class DeviceSampler {
 public:
  // For B rows of V logits on the device of `like` (its arena holds the ids, the streams, the
  // active flags and the workspace, Category::workspace, allocated once); `streams` are the
  // rows' starting states (row_stream).
  DeviceSampler(const Tensor& like, std::int64_t B, std::int64_t V, const SamplingOptions& o,
                const std::vector<std::uint64_t>& streams);

  // logits (B, 1, V) or (B, V): one id per row with active[b] != 0 (0 for the others, whose
  // streams do not move).
  std::vector<std::int32_t> sample(const Tensor& logits, const std::vector<char>& active);
  // logits (B, 1, V) or (B, V): every row samples, its id written into ids (B i32 on the
  // logits' device); no copy and no wait, so a CUDA graph can hold it (models/decode_step.h).
  void sample_into(const Tensor& logits, Tensor& ids);
  // Every row greedy (temperature <= 0 or NaN): the pick is an argmax, which can be fused into
  // the head's product (Gpt::forward_step_greedy), and no stream moves.
  bool greedy() const { return !(params_.temperature > 0); }
  // The rows' streams as they stand (a copy from the device).
  std::vector<std::uint64_t> streams() const;

 private:
  void check_logits(const Tensor& logits) const;  // B x V values, else an Error
  // The kernel's arguments for these logits, ids written to `out`, active flags or null (a
  // device with memory: it takes their addresses).
  kernels::SamplingArgs args(const Tensor& logits, void* out, const void* active);

  std::int64_t B_, V_;
  kernels::SamplingParams params_;
  Tensor ids_, states_, active_, workspace_;
};

}  // namespace cugpt
