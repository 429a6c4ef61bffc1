// Generation with a KV cache against the plain forward pass: the cached path must give the
// same logits and therefore the same greedy tokens as re-running the whole sequence.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "models/factory.h"
#include "models/generate.h"
#include "models/weights.h"

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

INSTANTIATE_TEST_SUITE_P(Families, Generate, ::testing::Values("gpt-day18-tiny", "gpt2-tiny"));

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
