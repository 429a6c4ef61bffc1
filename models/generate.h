// Autoregressive generation with a KV cache: prompts of any lengths in one batch, sampling
// (greedy, temperature, top-k, top-p) from seeded per-row streams, stop ids, and a callback per
// new token for streaming. See docs/generation.md.
//
// Prompts of different lengths share one cache and one position counter: the common prefix
// (the shortest prompt) is prefilled for every row at once, then each step feeds every row one
// token: the next token of its own prompt while it has one (the logits of that step are not
// sampled), else the token it sampled last. A row's positions, keys and values are therefore
// those it has alone, and so are its logits and its tokens (greedy; sampled too, since each row
// draws from its own stream).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/gpt.h"

namespace cugpt {

struct SamplingOptions {
  double temperature = 0.0;  // 0: greedy (the largest logit)
  std::int64_t top_k = 0;    // 0: the whole vocabulary
  double top_p = 1.0;        // nucleus mass in (0, 1]; 1: no cut
};

struct GenerateOptions : SamplingOptions {
  std::int64_t max_new = 16;
  std::uint64_t seed = 0;
  // A row stops when it samples one of these; the stop id is not part of its tokens.
  std::vector<std::int32_t> stop_ids;
  // Sample where the logits are (models/device_sampler.h): only the ids leave the device.
  bool device_sampler = false;
  // How the steps run once every row has read its prompt (docs/generation.md): host — a
  // forward per token fed from the host; device — models/decode_step.h, ids and positions on
  // the device, op by op; graph — that step captured once as a CUDA graph and replayed (on the
  // cpu the same as device); fused — graph with each LayerNorm before a product folded into it
  // (kernels/ln_gemv.h; on the cpu the same bits as device). All but host sample on the device
  // (device_sampler implied).
  enum class Decode { host, device, graph, fused };
  Decode decode = Decode::host;
};
const char* decode_name(GenerateOptions::Decode d);  // "host", "device", "graph", "fused"
GenerateOptions::Decode parse_decode(const std::string& name);

enum class StopReason { length, stop_id };
const char* stop_reason_name(StopReason r);  // "length", "stop"

struct GenerateResult {
  std::vector<std::vector<std::int32_t>> tokens;  // the new tokens of each prompt
  std::vector<StopReason> stop_reasons;           // why each row ended
  std::vector<std::int32_t> stopped_by;           // the stop id a row met, else -1
  double prefill_ms = 0;
  double decode_ms = 0;             // all decode steps together
  std::int64_t prefill_tokens = 0;  // B x the shortest prompt's length
  std::int64_t decode_steps = 0;    // forwards after the prefill, one token per row each
  std::int64_t new_tokens = 0;      // sum of the rows' new tokens
  // Decode graph: kernels and nodes in one captured step (-1: no graph ran), and the host time
  // its capture took, which decode_ms leaves out.
  int graph_kernels = -1, graph_nodes = -1;
  double capture_ms = 0;
};

// The sampling rule, the contract a device sampler must reproduce (the same distribution; with
// the same uniform number, the same token):
//  1. temperature <= 0: the largest logit, the lowest id among equal ones.
//  2. Order the vocabulary by logit, largest first, equal logits by id, smallest first
//     (NaN counts as -infinity).
//  3. top_k > 0: keep the first top_k of that order.
//  4. Weights w_i = exp((l_i - l_first) / temperature), probabilities p_i = w_i / sum(kept w).
//  5. top_p < 1: keep the shortest prefix of that order whose probability sum is >= top_p
//     (at least one token), and renormalise.
//  6. Draw u in [0, 1) and return the first token of the order whose cumulative probability
//     exceeds u (the last kept token if rounding leaves none).
std::int32_t sample_token(const float* logits, std::int64_t vocab, const SamplingOptions& o,
                          double uniform);
// The same with u drawn from the stream `rng_state` (splitmix64), which it advances once
// (not at all at temperature 0).
std::int32_t sample_token(const float* logits, std::int64_t vocab, const SamplingOptions& o,
                          std::uint64_t& rng_state);
// The next uniform number in [0, 1) of a splitmix64 stream.
double next_uniform(std::uint64_t& rng_state);
// The starting state of row `row`'s stream for a seed: row 0's is the seed itself.
std::uint64_t row_stream(std::uint64_t seed, std::int64_t row);

// Called with (row, token) for each new token as soon as it is sampled (not for a stop id).
using TokenCallback = std::function<void(std::size_t, std::int32_t)>;

// What generate checks before any work, for a caller that prints the prompt first.
void check_generation(const ModelConfig& config,
                      const std::vector<std::vector<std::int32_t>>& prompts,
                      const GenerateOptions& options);

// Continues each prompt (non-empty, any lengths). Throws when the longest prompt plus max_new
// exceeds the model's positions, for an id outside the vocabulary (prompt or stop id) and for
// invalid sampling options.
GenerateResult generate(const Gpt& model, const std::vector<std::vector<std::int32_t>>& prompts,
                        const GenerateOptions& options, const TokenCallback& on_token = {});
// A rectangular batch of prompts (no padding mask).
GenerateResult generate(const Gpt& model, const Batch& prompt, const GenerateOptions& options);

}  // namespace cugpt
