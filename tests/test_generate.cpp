// Generation with a KV cache against the plain forward pass: the cached path must give the
// same logits and therefore the same greedy tokens as re-running the whole sequence.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "models/device_sampler.h"
#include "models/factory.h"
#include "models/generate.h"
#include "models/weights.h"
#include "tests/gpu_test.h"

namespace cugpt {
namespace {

struct Loaded {
  std::shared_ptr<Arena> arena;
  std::unique_ptr<Gpt> model;
  const Gpt& gpt() const { return *model; }
};

Loaded load(const std::string& name) {
  Loaded l;
  l.arena = Arena::create(Device::cpu(), 256ull << 20);
  l.model = build_gpt(load_config(name), l.arena, DType::f32);
  load_weights(*l.model, std::string(CUGPT_SOURCE_DIR) + "/tests/data/golden/" + name +
                             "/weights.safetensors");
  return l;
}

Batch batch_of(const std::vector<std::int32_t>& tokens) {
  Batch b;
  b.B = 1;
  b.T = static_cast<std::int64_t>(tokens.size());
  b.tokens = tokens;
  return b;
}

class Generate : public ::testing::TestWithParam<const char*> {};

TEST_P(Generate, CachedLogitsEqualTheFullForward) {
  const Loaded l = load(GetParam());
  const std::int64_t V = l.model->config().vocab_size;
  std::vector<std::int32_t> seq = {5, 17, 2, 33, 8};
  KvCache cache = l.gpt().make_cache(1, 12);
  Batch step = batch_of(seq);
  for (int n = 0; n < 7; ++n) {
    const std::vector<float> cached = l.gpt().forward_cached(step, cache).to_floats();
    const std::vector<float> full = l.model->forward(batch_of(seq)).to_floats();
    ASSERT_EQ(cached.size(), static_cast<std::size_t>(V));
    const float* last = full.data() + (seq.size() - 1) * V;
    double max_diff = 0, max_ref = 0;
    for (std::int64_t v = 0; v < V; ++v) {
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(cached[v]) - last[v]));
      max_ref = std::max(max_ref, std::fabs(static_cast<double>(last[v])));
    }
    EXPECT_LE(max_diff / max_ref, 1e-5) << "step " << n;
    const auto next = static_cast<std::int32_t>(std::max_element(last, last + V) - last);
    seq.push_back(next);
    step = batch_of({next});
  }
  EXPECT_EQ(cache.length(), 11);
}

TEST_P(Generate, GreedyMatchesArgmaxOfTheFullForward) {
  const Loaded l = load(GetParam());
  const std::int64_t V = l.model->config().vocab_size;
  GenerateOptions o;
  o.max_new = 6;
  Batch prompt;
  prompt.B = 2;
  prompt.T = 3;
  prompt.tokens = {1, 2, 3, 9, 8, 7};
  const GenerateResult r = generate(l.gpt(), prompt, o);
  ASSERT_EQ(r.tokens.size(), 2u);
  for (int b = 0; b < 2; ++b) {
    std::vector<std::int32_t> seq(prompt.tokens.begin() + b * 3, prompt.tokens.begin() + b * 3 + 3);
    for (int n = 0; n < 6; ++n) {
      const std::vector<float> full = l.model->forward(batch_of(seq)).to_floats();
      const float* last = full.data() + (seq.size() - 1) * V;
      seq.push_back(static_cast<std::int32_t>(std::max_element(last, last + V) - last));
    }
    EXPECT_EQ(std::vector<std::int32_t>(seq.begin() + 3, seq.end()), r.tokens[b]);
  }
  EXPECT_EQ(r.decode_steps, 5);
}

TEST(Sampling, SeededAndRestrictedToTopK) {
  const Loaded l = load("gpt2-tiny");
  GenerateOptions o;
  o.max_new = 12;
  o.temperature = 5.0;
  o.seed = 11;
  const Batch prompt = batch_of({1, 2, 3});
  const auto a = generate(l.gpt(), prompt, o).tokens;
  EXPECT_EQ(a, generate(l.gpt(), prompt, o).tokens);  // same seed, same tokens
  o.seed = 12;
  EXPECT_NE(a, generate(l.gpt(), prompt, o).tokens);
  // top-k 1 is greedy whatever the temperature.
  o.top_k = 1;
  const auto top1 = generate(l.gpt(), prompt, o).tokens;
  GenerateOptions greedy;
  greedy.max_new = 12;
  EXPECT_EQ(top1, generate(l.gpt(), prompt, greedy).tokens);
  // top-k 3 only ever picks one of the three largest logits.
  const std::vector<float> logits = {0.1f, 3.0f, -1.0f, 2.5f, 2.9f, 0.0f};
  GenerateOptions k3;
  k3.temperature = 10.0;
  k3.top_k = 3;
  std::uint64_t rng = 5;
  for (int i = 0; i < 200; ++i) {
    const std::int32_t t = sample_token(logits.data(), 6, k3, rng);
    EXPECT_TRUE(t == 1 || t == 3 || t == 4) << t;
  }
}

// Prompts of different lengths in one batch: each row gives, token for token, what its prompt
// gives alone (greedy), and rows stop at their own max_new.
TEST_P(Generate, RaggedBatchEqualsEachPromptAlone) {
  const Loaded l = load(GetParam());
  GenerateOptions o;
  o.max_new = 5;
  const std::vector<std::vector<std::int32_t>> prompts = {{1, 2, 3}, {9, 8, 7, 6, 5, 4}, {4}};
  const GenerateResult r = generate(l.gpt(), prompts, o);
  ASSERT_EQ(r.tokens.size(), 3u);
  for (std::size_t b = 0; b < prompts.size(); ++b) {
    const GenerateResult alone = generate(l.gpt(), {prompts[b]}, o);
    EXPECT_EQ(r.tokens[b], alone.tokens[0]) << "prompt " << b;
    EXPECT_EQ(r.tokens[b].size(), 5u);
    EXPECT_EQ(r.stop_reasons[b], StopReason::length);
  }
  // Prefill of the shortest prompt for all rows, then steps until the longest has 5 new tokens.
  EXPECT_EQ(r.prefill_tokens, 3 * 1);
  EXPECT_EQ(r.decode_steps, 6 + 5 - 1 - 1);
  EXPECT_EQ(r.new_tokens, 15);
}

INSTANTIATE_TEST_SUITE_P(Families, Generate, ::testing::Values("gpt-day18-tiny", "gpt2-tiny"));

// Sampled rows draw from their own streams: a row's tokens do not depend on the other rows.
TEST(Sampling, RaggedSampledRowsAreIndependentOfTheirNeighbours) {
  const Loaded l = load("gpt2-tiny");
  GenerateOptions o;
  o.max_new = 10;
  o.temperature = 3.0;
  o.top_p = 0.9;
  o.seed = 21;
  const auto a = generate(l.gpt(), {{1, 2, 3}, {5, 6, 7, 8, 9}}, o).tokens;
  const auto b = generate(l.gpt(), {{1, 2, 3}, {40}}, o).tokens;
  const auto c = generate(l.gpt(), {{30, 31, 32, 33, 34, 35}, {5, 6, 7, 8, 9}}, o).tokens;
  EXPECT_EQ(a[0], b[0]);
  EXPECT_EQ(a[1], c[1]);
  EXPECT_EQ(a[0], generate(l.gpt(), {{1, 2, 3}}, o).tokens[0]);  // row 0 is the seed's stream
  // Two rows with the same prompt sample differently (different streams).
  const auto twins = generate(l.gpt(), {{1, 2, 3}, {1, 2, 3}}, o).tokens;
  EXPECT_NE(twins[0], twins[1]);
}

// A row ends at its first stop id (left out of its tokens); the others go on.
TEST(Sampling, StopIdsEndTheirRowOnly) {
  const Loaded l = load("gpt2-tiny");
  GenerateOptions o;
  o.max_new = 12;
  const std::vector<std::vector<std::int32_t>> prompts = {{1, 2, 3}, {50, 60}};
  const GenerateResult free_run = generate(l.gpt(), prompts, o);
  // A stop id row 0 meets at a later step: its first token not already among the earlier ones.
  const auto& first = free_run.tokens[0];
  std::size_t k = 1;
  while (k < first.size() && std::find(first.begin(), first.begin() + k, first[k]) !=
                                 first.begin() + static_cast<long>(k))
    ++k;
  ASSERT_LT(k, first.size()) << "greedy row 0 repeats one token";
  o.stop_ids = {first[k]};
  std::vector<std::vector<std::int32_t>> streamed(2);
  const GenerateResult r = generate(
      l.gpt(), prompts, o, [&](std::size_t b, std::int32_t t) { streamed[b].push_back(t); });
  for (std::size_t b = 0; b < 2; ++b) {
    const auto& all = free_run.tokens[b];
    const auto at = std::find(all.begin(), all.end(), first[k]);
    EXPECT_EQ(r.tokens[b], std::vector<std::int32_t>(all.begin(), at)) << "row " << b;
    EXPECT_EQ(r.stop_reasons[b], at == all.end() ? StopReason::length : StopReason::stop_id);
    EXPECT_EQ(r.stopped_by[b], at == all.end() ? -1 : first[k]);
    EXPECT_EQ(streamed[b], r.tokens[b]);  // the callback saw each new token, in order
  }
  EXPECT_EQ(r.tokens[0].size(), k);
  EXPECT_EQ(r.stop_reasons[0], StopReason::stop_id);
  o.stop_ids = {101};
  EXPECT_THROW(generate(l.gpt(), prompts, o), Error);  // outside the vocabulary
}

TEST(Sampling, RaggedPromptsAreBoundByTheLongest) {
  const Loaded l = load("gpt2-tiny");  // 24 positions
  GenerateOptions o;
  o.max_new = 20;
  EXPECT_NO_THROW(generate(l.gpt(), {{1}, {1, 2, 3, 4}}, o));
  o.max_new = 21;
  try {
    generate(l.gpt(), {{1}, {1, 2, 3, 4}}, o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("prompt of 4 tokens plus 21 new ones exceeds the 24"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(generate(l.gpt(), std::vector<std::vector<std::int32_t>>{{1}, {}}, o), Error);
  EXPECT_THROW(generate(l.gpt(), {{1, 101}}, o), Error);
}

// The sampling contract on hand-made rows: the order is by logit then id, top-p keeps the
// shortest prefix holding p of the mass.
TEST(Sampling, TopPOnAHandMadeRow) {
  // Probabilities 0.4, 0.1, 0.3, 0.2 at temperature 1 (ids 0..3); order 0, 2, 3, 1.
  const std::vector<double> probs = {0.4, 0.1, 0.3, 0.2};
  std::vector<float> logits;
  for (double p : probs) logits.push_back(static_cast<float>(std::log(p)));
  SamplingOptions s;
  s.temperature = 1.0;
  const int n = 10000;
  const auto shares = [&](const SamplingOptions& opt) {
    std::vector<double> share(4, 0.0);
    for (int i = 0; i < n; ++i)
      share[sample_token(logits.data(), 4, opt, (i + 0.5) / n)] += 1.0 / n;
    return share;
  };
  // p = 1 is no cut: the full distribution, and the same token as without top-p for every u.
  for (int i = 0; i < n; ++i) {
    SamplingOptions off = s;
    off.top_p = 1.0;
    const double u = (i + 0.5) / n;
    EXPECT_EQ(sample_token(logits.data(), 4, s, u), sample_token(logits.data(), 4, off, u));
  }
  std::vector<double> full = shares(s);
  for (int t = 0; t < 4; ++t) EXPECT_NEAR(full[t], probs[t], 2.0 / n) << t;
  // A tiny p keeps only the largest logit, whatever u.
  s.top_p = 1e-6;
  EXPECT_NEAR(shares(s)[0], 1.0, 1e-12);
  // p = 0.5: 0.4 < 0.5, 0.4 + 0.3 >= 0.5: ids 0 and 2, renormalised to 4/7 and 3/7.
  s.top_p = 0.5;
  std::vector<double> half = shares(s);
  EXPECT_NEAR(half[0], 4.0 / 7, 2.0 / n);
  EXPECT_NEAR(half[2], 3.0 / 7, 2.0 / n);
  EXPECT_EQ(half[1] + half[3], 0.0);
  // p = 0.8 adds id 3 (0.9 of the mass), never id 1.
  s.top_p = 0.8;
  std::vector<double> most = shares(s);
  EXPECT_NEAR(most[3], 0.2 / 0.9, 2.0 / n);
  EXPECT_EQ(most[1], 0.0);
  // Equal logits: ties go to the smaller id, for greedy and for top-k.
  const std::vector<float> flat = {1.0f, 2.0f, 2.0f, 2.0f};
  SamplingOptions greedy;
  EXPECT_EQ(sample_token(flat.data(), 4, greedy, 0.9), 1);
  SamplingOptions k2;
  k2.temperature = 1.0;
  k2.top_k = 2;
  for (int i = 0; i < 100; ++i) {
    const std::int32_t t = sample_token(flat.data(), 4, k2, (i + 0.5) / 100);
    EXPECT_TRUE(t == 1 || t == 2) << t;
  }
}

// Over many seeds the draws follow the renormalised probabilities of what top-k and top-p keep
// (a chi-square bound; the seeds are fixed, so the test is deterministic).
TEST(Sampling, SeededDrawsFollowTheKeptDistribution) {
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 1.5f, 1.0f, 0.0f, 1.9f};
  SamplingOptions s;
  s.temperature = 0.7;
  s.top_k = 5;     // drops ids 2 and 5
  s.top_p = 0.85;  // then the smallest prefix of ids 1, 6, 3, 4, 0 holding 85%
  std::vector<std::int32_t> order = {1, 6, 3, 4, 0};
  std::vector<double> w;
  double sum = 0;
  for (std::int32_t id : order) sum += w.emplace_back(std::exp((logits[id] - 2.0) / 0.7));
  double mass = 0;
  std::size_t keep = 0;
  while (mass < 0.85 * sum) mass += w[keep++];
  ASSERT_GT(keep, 1u);
  ASSERT_LT(keep, order.size());  // the cut is exercised
  const int n = 20000;
  std::vector<int> count(logits.size(), 0);
  for (int seed = 0; seed < n; ++seed) {
    std::uint64_t rng = row_stream(static_cast<std::uint64_t>(seed), 0);
    ++count[static_cast<std::size_t>(sample_token(logits.data(), 7, s, rng))];
  }
  double chi2 = 0;
  int seen = 0;
  for (std::size_t i = 0; i < keep; ++i) {
    const double expected = n * w[i] / mass;
    const double d = count[static_cast<std::size_t>(order[i])] - expected;
    chi2 += d * d / expected;
    seen += count[static_cast<std::size_t>(order[i])];
  }
  EXPECT_EQ(seen, n);  // nothing outside the kept set
  // Far beyond chance for keep - 1 <= 3 degrees of freedom (p < 1e-4), far below a wrong rule.
  EXPECT_LT(chi2, 25.0) << chi2;
}

TEST(Sampling, RejectsGenerationPastThePositionTable) {
  const Loaded l = load("gpt2-tiny");  // 24 positions
  GenerateOptions o;
  o.max_new = 22;
  try {
    generate(l.gpt(), batch_of({1, 2, 3}), o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("exceeds the 24 positions"), std::string::npos);
  }
}

TEST(Sampling, KvCacheIsInItsOwnCategory) {
  const Loaded l = load("gpt2-tiny");
  const std::uint64_t before = l.arena->current(Category::kv_cache);
  {
    KvCache cache = l.gpt().make_cache(2, 20);
    // 2 layers x (k, v) x 2 sequences x 20 positions x 32 channels x 4 bytes, 256-aligned.
    EXPECT_EQ(l.arena->current(Category::kv_cache) - before, 4u * align_up(2 * 20 * 32 * 4));
  }
  EXPECT_EQ(l.arena->current(Category::kv_cache), before);
}

}  // namespace
}  // namespace cugpt

namespace cugpt {
namespace {

// The device sampler through its cpu twin: the same tokens as the host's sample_token for
// greedy and for sampled rows (temperature, top-k, top-p), ragged prompts and a stop id; the
// streams advance as the host's do (one draw per sampled token), and rows still reading their
// prompt or finished do not draw.
TEST(DeviceSampler, CpuTwinGivesTheHostSamplersTokens) {
  const Loaded l = load("gpt2-tiny");
  const std::vector<std::vector<std::int32_t>> prompts = {{1, 2, 3}, {5, 6, 7, 8, 9}, {40}};
  for (const double temperature : {0.0, 0.8, 3.0}) {
    GenerateOptions o;
    o.max_new = 12;
    o.temperature = temperature;
    o.top_k = temperature == 0.8 ? 20 : 0;
    o.top_p = temperature == 3.0 ? 0.9 : 1.0;
    o.seed = 77;
    o.stop_ids = {17};
    const std::uint64_t before = l.arena->stats().allocations;
    const GenerateResult host = generate(l.gpt(), prompts, o);
    const std::uint64_t by_host = l.arena->stats().allocations - before;
    o.device_sampler = true;
    const GenerateResult device = generate(l.gpt(), prompts, o);
    SCOPED_TRACE("temperature " + std::to_string(temperature));
    // The device sampler's four buffers (ids, streams, flags, workspace): it did run.
    EXPECT_EQ(l.arena->stats().allocations - before - by_host, by_host + 4);
    EXPECT_EQ(host.tokens, device.tokens);
    EXPECT_EQ(host.stopped_by, device.stopped_by);
    EXPECT_EQ(host.new_tokens, device.new_tokens);
  }
}

// On a card the sampler is sample_tokens_cuda on the card's own logits (f32 and bf16): the
// host's tokens, greedy and sampled.
class CudaDeviceSampler : public testing::CudaTest {};

TEST_F(CudaDeviceSampler, GivesTheHostSamplersTokens) {
  for (const DType dtype : {DType::f32, DType::bf16}) {
    auto arena = Arena::create(Device::cuda(0), 256ull << 20);
    auto model = build_gpt(load_config("gpt2-tiny"), arena, dtype);
    LoadOptions lo;
    lo.convert_dtype = true;
    load_weights(*model,
                 std::string(CUGPT_SOURCE_DIR) + "/tests/data/golden/gpt2-tiny/weights.safetensors",
                 lo);
    for (const double temperature : {0.0, 0.8}) {
      GenerateOptions o;
      o.max_new = 12;
      o.temperature = temperature;
      o.top_p = 0.95;
      o.seed = 3;
      const auto host = generate(*model, {{1, 2, 3}, {5, 6, 7, 8, 9}}, o).tokens;
      o.device_sampler = true;
      SCOPED_TRACE(std::string(dtype_name(dtype)) + " temperature " + std::to_string(temperature));
      EXPECT_EQ(host, generate(*model, {{1, 2, 3}, {5, 6, 7, 8, 9}}, o).tokens);
    }
  }
}

TEST(DeviceSampler, StreamsAdvanceOncePerSampledRow) {
  auto arena = Arena::create(Device::cpu(), 16ull << 20);
  Tensor logits = Tensor::zeros(arena, {3, 1, 11}, DType::f32, Category::activation);
  std::vector<float> v(33);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 7) % 11) * 0.3f;
  logits.copy_from_floats(v);
  SamplingOptions o;
  o.temperature = 1.0;
  const std::vector<std::uint64_t> start = {row_stream(5, 0), row_stream(5, 1), row_stream(5, 2)};
  DeviceSampler s(logits, 3, 11, o, start);
  const std::vector<std::int32_t> ids = s.sample(logits, {1, 0, 1});
  std::vector<std::uint64_t> expect = start;
  for (const std::size_t b : {0u, 2u}) {
    std::uint64_t state = start[b];
    EXPECT_EQ(ids[b], sample_token(v.data() + b * 11, 11, o, state)) << "row " << b;
    expect[b] = state;
  }
  EXPECT_EQ(ids[1], 0);
  EXPECT_EQ(s.streams(), expect);
}

}  // namespace
}  // namespace cugpt
