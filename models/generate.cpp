#include "models/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

namespace cugpt {

namespace {
// splitmix64: a tiny generator whose stream is the same on every platform.
double next_uniform(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}
}  // namespace

std::int32_t sample_token(const float* logits, std::int64_t vocab, const GenerateOptions& o,
                          std::uint64_t& rng_state) {
  if (o.temperature <= 0.0)
    return static_cast<std::int32_t>(std::max_element(logits, logits + vocab) - logits);
  std::vector<std::int32_t> ids(static_cast<std::size_t>(vocab));
  std::iota(ids.begin(), ids.end(), 0);
  std::size_t keep = ids.size();
  if (o.top_k > 0 && o.top_k < vocab) {
    keep = static_cast<std::size_t>(o.top_k);
    std::partial_sort(ids.begin(), ids.begin() + static_cast<long>(keep), ids.end(),
                      [&](std::int32_t a, std::int32_t b) { return logits[a] > logits[b]; });
  }
  double mx = -INFINITY;
  for (std::size_t i = 0; i < keep; ++i) mx = std::max(mx, static_cast<double>(logits[ids[i]]));
  std::vector<double> w(keep);
  double sum = 0;
  for (std::size_t i = 0; i < keep; ++i)
    sum += w[i] = std::exp((logits[ids[i]] - mx) / o.temperature);
  double u = next_uniform(rng_state) * sum;
  for (std::size_t i = 0; i < keep; ++i) {
    if ((u -= w[i]) <= 0) return ids[i];
  }
  return ids[keep - 1];
}

GenerateResult generate(const Gpt& model, const Batch& prompt, const GenerateOptions& o) {
  if (o.max_new < 0) throw Error("--max-new must not be negative");
  const std::int64_t V = model.config().vocab_size;
  const std::int64_t t_max = prompt.T + o.max_new;
  if (t_max > model.config().max_positions)
    throw Error("prompt of " + std::to_string(prompt.T) + " tokens plus " +
                std::to_string(o.max_new) + " new ones exceeds the " +
                std::to_string(model.config().max_positions) + " positions of " +
                model.config().name);
  KvCache cache = model.make_cache(prompt.B, t_max);
  GenerateResult r;
  r.tokens.resize(static_cast<std::size_t>(prompt.B));
  std::uint64_t rng = o.seed;

  Batch step = prompt;
  for (std::int64_t n = 0; n < o.max_new; ++n) {
    const auto start = std::chrono::steady_clock::now();
    const Tensor logits = model.forward_cached(step, cache);  // (B, 1, V)
    const std::vector<float> host = logits.to_floats();       // waits for the device
    (n == 0 ? r.prefill_ms : r.decode_ms) += elapsed_ms(start);
    if (n > 0) ++r.decode_steps;
    step.T = 1;
    step.tokens.assign(static_cast<std::size_t>(prompt.B), 0);
    step.attention_mask.clear();
    for (std::int64_t b = 0; b < prompt.B; ++b) {
      const std::int32_t next = sample_token(host.data() + b * V, V, o, rng);
      r.tokens[static_cast<std::size_t>(b)].push_back(next);
      step.tokens[static_cast<std::size_t>(b)] = next;
    }
  }
  return r;
}

}  // namespace cugpt
