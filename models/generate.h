// Autoregressive generation with a KV cache: one prefill of the prompt, then one token per
// step. Greedy at temperature 0; otherwise softmax sampling at the temperature, optionally
// restricted to the top k logits, from a seeded generator (the same seed, the same tokens).
#pragma once

#include <cstdint>
#include <vector>

#include "models/gpt.h"

namespace cugpt {

struct GenerateOptions {
  std::int64_t max_new = 16;
  double temperature = 0.0;
  std::int64_t top_k = 0;  // 0: the whole vocabulary
  std::uint64_t seed = 0;
};

struct GenerateResult {
  std::vector<std::vector<std::int32_t>> tokens;  // the new tokens of each sequence
  double prefill_ms = 0;
  double decode_ms = 0;  // all decode steps together
  std::int64_t decode_steps = 0;
};

// Picks the next token from one row of logits.
std::int32_t sample_token(const float* logits, std::int64_t vocab, const GenerateOptions& o,
                          std::uint64_t& rng_state);

GenerateResult generate(const Gpt& model, const Batch& prompt, const GenerateOptions& options);

}  // namespace cugpt
