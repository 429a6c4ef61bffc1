#include "models/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <numeric>

#include "models/decode_step.h"
#include "models/device_sampler.h"

namespace cugpt {

namespace {
double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}

// The sort key of a logit: NaN is the smallest, so a broken row cannot break the ordering.
double key(float l) {
  return std::isnan(l) ? -INFINITY : static_cast<double>(l);
}

void check_sampling(const SamplingOptions& o) {
  if (!(o.temperature >= 0) || !std::isfinite(o.temperature))
    throw Error("temperature must be a finite number >= 0");
  if (o.top_k < 0) throw Error("top-k must not be negative");
  if (!(o.top_p > 0 && o.top_p <= 1)) throw Error("top-p must be in (0, 1]");
}
}  // namespace

const char* stop_reason_name(StopReason r) {
  return r == StopReason::length ? "length" : "stop";
}

const char* decode_name(GenerateOptions::Decode d) {
  switch (d) {
    case GenerateOptions::Decode::host:
      return "host";
    case GenerateOptions::Decode::device:
      return "device";
    case GenerateOptions::Decode::graph:
      return "graph";
    case GenerateOptions::Decode::fused:
      return "fused";
  }
  return "?";
}

GenerateOptions::Decode parse_decode(const std::string& name) {
  for (auto d : {GenerateOptions::Decode::host, GenerateOptions::Decode::device,
                 GenerateOptions::Decode::graph, GenerateOptions::Decode::fused})
    if (name == decode_name(d)) return d;
  throw Error("decode steps: '" + name + "' is not one of host, device, graph, fused");
}

double next_uniform(std::uint64_t& s) {
  // splitmix64: a tiny generator whose stream is the same on every platform.
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

std::uint64_t row_stream(std::uint64_t seed, std::int64_t row) {
  // An odd constant other than splitmix's increment, so that rows do not walk each other's
  // streams a few steps apart.
  return seed + 0x632be59bd9b4e019ull * static_cast<std::uint64_t>(row);
}

std::int32_t sample_token(const float* logits, std::int64_t vocab, const SamplingOptions& o,
                          double uniform) {
  if (vocab <= 0) throw Error("sampling from an empty vocabulary");
  const auto before = [&](std::int32_t a, std::int32_t b) {
    const double ka = key(logits[a]), kb = key(logits[b]);
    return ka > kb || (ka == kb && a < b);
  };
  if (o.temperature <= 0.0) {
    std::int32_t best = 0;
    for (std::int32_t i = 1; i < vocab; ++i)
      if (before(i, best)) best = i;
    return best;
  }
  std::vector<std::int32_t> ids(static_cast<std::size_t>(vocab));
  std::iota(ids.begin(), ids.end(), 0);
  std::size_t keep = ids.size();
  if (o.top_k > 0 && o.top_k < vocab) keep = static_cast<std::size_t>(o.top_k);
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(keep), ids.end(),
                    before);
  const double top = key(logits[ids[0]]);
  if (!std::isfinite(top)) return ids[0];  // nothing to weigh: every logit -inf or NaN
  std::vector<double> w(keep);
  double sum = 0;
  for (std::size_t i = 0; i < keep; ++i)
    sum += w[i] = std::exp((key(logits[ids[i]]) - top) / o.temperature);
  if (o.top_p < 1.0) {
    double mass = 0;
    std::size_t n = 0;
    while (n < keep && mass < o.top_p * sum) mass += w[n++];
    keep = std::max<std::size_t>(n, 1);
    sum = mass > 0 ? mass : w[0];
  }
  double u = uniform * sum;
  for (std::size_t i = 0; i < keep; ++i) {
    if ((u -= w[i]) < 0) return ids[i];
  }
  return ids[keep - 1];
}

std::int32_t sample_token(const float* logits, std::int64_t vocab, const SamplingOptions& o,
                          std::uint64_t& rng_state) {
  if (o.temperature <= 0.0) return sample_token(logits, vocab, o, 0.0);
  return sample_token(logits, vocab, o, next_uniform(rng_state));
}

void check_generation(const ModelConfig& config,
                      const std::vector<std::vector<std::int32_t>>& prompts,
                      const GenerateOptions& o) {
  if (o.max_new < 0) throw Error("--max-new must not be negative");
  check_sampling(o);
  if (prompts.empty()) throw Error("generate: no prompts");
  const std::int64_t V = config.vocab_size;
  std::size_t longest = 0;
  for (std::size_t b = 0; b < prompts.size(); ++b) {
    if (prompts[b].empty()) throw Error("prompt " + std::to_string(b) + " is empty");
    longest = std::max(longest, prompts[b].size());
    for (std::size_t t = 0; t < prompts[b].size(); ++t)
      if (prompts[b][t] < 0 || prompts[b][t] >= V)
        throw Error("token id " + std::to_string(prompts[b][t]) + " at batch " + std::to_string(b) +
                    ", position " + std::to_string(t) + " is outside the vocabulary [0, " +
                    std::to_string(V) + ")");
  }
  for (std::int32_t s : o.stop_ids)
    if (s < 0 || s >= V)
      throw Error("stop id " + std::to_string(s) + " is outside the vocabulary [0, " +
                  std::to_string(V) + ")");
  if (static_cast<std::int64_t>(longest) + o.max_new > config.max_positions)
    throw Error("prompt of " + std::to_string(longest) + " tokens plus " +
                std::to_string(o.max_new) + " new ones exceeds the " +
                std::to_string(config.max_positions) + " positions of " + config.name);
}

GenerateResult generate(const Gpt& model, const std::vector<std::vector<std::int32_t>>& prompts,
                        const GenerateOptions& o, const TokenCallback& on_token) {
  check_generation(model.config(), prompts, o);
  const std::int64_t V = model.config().vocab_size;
  const auto B = static_cast<std::int64_t>(prompts.size());
  std::size_t shortest = prompts[0].size(), longest = 0;
  for (const auto& p : prompts) {
    shortest = std::min(shortest, p.size());
    longest = std::max(longest, p.size());
  }
  const auto T_long = static_cast<std::int64_t>(longest);

  GenerateResult r;
  r.tokens.resize(prompts.size());
  r.stop_reasons.assign(prompts.size(), StopReason::length);
  r.stopped_by.assign(prompts.size(), -1);
  if (o.max_new == 0) return r;

  // The last token generated is never fed back, so the cache needs one position less.
  KvCache cache = model.make_cache(B, T_long + o.max_new - 1);
  std::vector<std::uint64_t> rng(prompts.size());
  for (std::int64_t b = 0; b < B; ++b) rng[static_cast<std::size_t>(b)] = row_stream(o.seed, b);
  std::vector<char> done(prompts.size(), 0);
  std::size_t running = prompts.size();
  const bool on_device = o.decode != GenerateOptions::Decode::host;
  std::unique_ptr<DeviceSampler> sampler;
  if (o.device_sampler || on_device)
    sampler = std::make_unique<DeviceSampler>(model.wte().weight(), B, V, o, rng);

  // Row b's sampled token t: kept (or a stop), the row finished when it has all it needs.
  const auto take = [&](std::size_t b, std::int32_t t) {
    auto& out = r.tokens[b];
    if (std::find(o.stop_ids.begin(), o.stop_ids.end(), t) != o.stop_ids.end()) {
      r.stop_reasons[b] = StopReason::stop_id;
      r.stopped_by[b] = t;
    } else {
      out.push_back(t);
      ++r.new_tokens;
      if (on_token) on_token(b, t);
    }
    if (r.stop_reasons[b] == StopReason::stop_id ||
        static_cast<std::int64_t>(out.size()) == o.max_new) {
      done[b] = 1;
      --running;
    }
  };

  Batch step;
  step.B = B;
  step.T = static_cast<std::int64_t>(shortest);
  for (const auto& p : prompts)
    step.tokens.insert(step.tokens.end(), p.begin(), p.begin() + step.T);
  r.prefill_tokens = B * step.T;
  std::size_t pos = shortest;  // every row's next position
  for (bool first = true; running > 0; first = false) {
    // Every row samples from here on: the device's turn.
    if (on_device && !first && pos >= longest) break;
    const auto start = std::chrono::steady_clock::now();
    const Tensor logits = model.forward_cached(step, cache);  // (B, 1, V)
    // Both wait for the device: the logits, or (device sampler) the active rows' ids only.
    std::vector<float> host;
    std::vector<std::int32_t> drawn;
    if (sampler) {
      std::vector<char> active(prompts.size(), 0);
      for (std::size_t b = 0; b < prompts.size(); ++b)
        active[b] = !done[b] && pos >= prompts[b].size();
      drawn = sampler->sample(logits, active);
    } else {
      host = logits.to_floats();
    }
    (first ? r.prefill_ms : r.decode_ms) += elapsed_ms(start);
    if (!first) ++r.decode_steps;
    std::vector<std::int32_t> next(prompts.size(), 0);  // a finished row is fed id 0, unread
    for (std::size_t b = 0; b < prompts.size(); ++b) {
      if (done[b]) continue;
      if (pos < prompts[b].size()) {  // still reading its own prompt
        next[b] = prompts[b][pos];
        continue;
      }
      next[b] = sampler
                    ? drawn[b]
                    : sample_token(host.data() + static_cast<std::int64_t>(b) * V, V, o, rng[b]);
      take(b, next[b]);
    }
    step.T = 1;
    step.tokens = next;
    ++pos;
  }
  if (running == 0) return r;

  // The device's turn (models/decode_step.h): each step feeds every row the id it sampled last,
  // samples the next on the device and is enqueued before the last one's ids are read. Finished
  // rows go on computing, unread, as they would on the host path; no row needs more than
  // `steps` more, which the cache holds.
  std::int64_t steps = 0;
  for (std::size_t b = 0; b < prompts.size(); ++b)
    if (!done[b])
      steps = std::max(steps, o.max_new - static_cast<std::int64_t>(r.tokens[b].size()));
  const auto start = std::chrono::steady_clock::now();
  DecodeStep device(model, cache, *sampler, step.tokens,
                    o.decode == GenerateOptions::Decode::device ? DecodeStep::Mode::eager
                                                                : DecodeStep::Mode::graph,
                    o.decode == GenerateOptions::Decode::fused);
  std::int64_t enqueued = 0;
  while (running > 0) {
    while (enqueued < steps && device.pending() < DecodeStep::kSlots) {
      device.enqueue();
      ++enqueued;
    }
    const std::vector<std::int32_t> ids = device.next_ids();
    ++r.decode_steps;
    for (std::size_t b = 0; b < prompts.size(); ++b)
      if (!done[b]) take(b, ids[b]);
  }
  r.graph_kernels = device.kernels_per_step();
  r.graph_nodes = device.nodes_per_step();
  r.capture_ms = device.capture_ms();
  r.decode_ms += elapsed_ms(start) - r.capture_ms;
  return r;
}

GenerateResult generate(const Gpt& model, const Batch& prompt, const GenerateOptions& options) {
  for (std::int32_t m : prompt.attention_mask)
    if (m != 1) throw Error("generate: prompts with a padding mask; give the rows unpadded");
  if (prompt.B <= 0 || prompt.T <= 0 ||
      static_cast<std::int64_t>(prompt.tokens.size()) != prompt.B * prompt.T)
    throw Error("generate: a batch of " + std::to_string(prompt.B) + "x" +
                std::to_string(prompt.T) + " with " + std::to_string(prompt.tokens.size()) +
                " tokens");
  std::vector<std::vector<std::int32_t>> rows;
  for (std::int64_t b = 0; b < prompt.B; ++b)
    rows.emplace_back(prompt.tokens.begin() + b * prompt.T,
                      prompt.tokens.begin() + (b + 1) * prompt.T);
  return generate(model, rows, options);
}

}  // namespace cugpt
