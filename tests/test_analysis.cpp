// Properties of the analyses that hold for any weights: the attribution's parts sum to the
// logit, the lens's last row is the model's own output, patching the last residual point
// restores everything and patching before the corruption restores nothing, ablation agrees with
// a hand-made write, the induction test's tokens repeat, and bad input is refused in one line.
#include <gtest/gtest.h>

#include <algorithm>

#include <cmath>

#include "analysis/ablate.h"
#include "analysis/attribution.h"
#include "analysis/gpt_parts.h"
#include "analysis/lens.h"
#include "analysis/metric.h"
#include "analysis/patch.h"
#include "analysis/patterns.h"
#include "models/factory.h"
#include "models/weights.h"

namespace cugpt::analysis {
namespace {

const std::string kGolden = std::string(CUGPT_SOURCE_DIR) + "/tests/data/golden/";

struct Loaded {
  std::shared_ptr<Arena> arena;
  std::unique_ptr<Model> model;
};

Loaded load(const std::string& name) {
  Loaded l;
  l.arena = Arena::create(Device::cpu(), 256ull << 20);
  l.model = build_model(load_config(name), l.arena, DType::f32);
  load_weights(*l.model, kGolden + name + "/weights.safetensors");
  return l;
}

Batch one(std::vector<std::int32_t> t) {
  return Batch{1, static_cast<std::int64_t>(t.size()), std::move(t), {}};
}

const std::vector<std::int32_t> kTokens = {4, 56, 53, 21, 9, 3, 63, 37, 35, 45, 54};

class Analyses : public ::testing::TestWithParam<const char*> {};

TEST_P(Analyses, AttributionPartsSumToTheLogit) {
  Loaded l = load(GetParam());
  for (std::int32_t distractor : {-1, 7})
    for (std::int64_t pos : {-1, 4}) {
      const Attribution a = direct_logit_attribution(*l.model, one(kTokens), 11, distractor, pos);
      EXPECT_EQ(a.heads.size(), static_cast<std::size_t>(a.L * a.H));
      EXPECT_NEAR(a.total, a.logit, 1e-4 * std::max(1.0, std::fabs(a.logit)))
          << "distractor " << distractor << " position " << pos;
      double parts = a.embeddings + a.constant;
      for (double v : a.heads) parts += v;
      for (std::size_t i = 0; i < a.mlps.size(); ++i) parts += a.mlps[i] + a.attn_bias[i];
      EXPECT_DOUBLE_EQ(parts, a.total);
    }
}

TEST_P(Analyses, LensLastRowIsTheModelsOutput) {
  Loaded l = load(GetParam());
  const Batch b = one(kTokens);
  Hooks none;
  const std::vector<float> logits = run_logits(*l.model, none, b);
  const std::int64_t V = l.model->config().vocab_size, T = b.T;
  const LensResult r = logit_lens(*l.model, b, 5);
  ASSERT_EQ(r.rows, l.model->config().n_layer + 1);
  for (std::int64_t t = 0; t < T; ++t) {
    const std::vector<double> lp = log_softmax(&logits[t * V], V);
    const std::int64_t last = (r.rows - 1) * T + t;
    EXPECT_EQ(r.target_rank[last], 0) << "the default target is the model's top token";
    EXPECT_EQ(r.top_ids[last * r.k], r.targets[t]);
    EXPECT_NEAR(r.target_logprob[last], lp[r.targets[t]], 1e-6);
    for (std::int64_t row = 0; row < r.rows; ++row) {
      const std::int64_t i = row * T + t;
      for (std::int64_t j = 1; j < r.k; ++j)
        EXPECT_GE(r.top_probs[i * r.k + j - 1], r.top_probs[i * r.k + j]);
      // The target's rank agrees with the top-k list when it is in it.
      for (std::int64_t j = 0; j < r.k; ++j) {
        if (r.top_ids[i * r.k + j] == r.targets[t]) {
          EXPECT_EQ(r.target_rank[i], j);
        }
      }
    }
  }
}

TEST_P(Analyses, PatchingRestoresAllAtTheEndAndNothingBeforeTheCorruption) {
  Loaded l = load(GetParam());
  std::vector<std::int32_t> corrupt = kTokens;
  const std::int64_t changed = 6;
  corrupt[changed] = 1;
  const Metric m{Metric::Kind::logit, -1, 11, 7};
  const PatchResult r = activation_patching(*l.model, one(kTokens), one(corrupt), m);
  ASSERT_NE(r.clean, r.corrupted);
  const std::int64_t T = r.T;
  for (std::int64_t row = 0; row < r.rows; ++row)
    for (std::int64_t t = 0; t < changed; ++t)
      EXPECT_EQ(r.resid[row * T + t], 0.0) << "identical activations before the corruption";
  // The last residual point at the last position is all the final logits see.
  EXPECT_NEAR(r.resid[(r.rows - 1) * T + T - 1], 1.0, 1e-6);
  // The embeddings at the corrupted position carry the whole difference too.
  EXPECT_NEAR(r.resid[changed], 1.0, 1e-5);
  EXPECT_THROW(activation_patching(*l.model, one(kTokens), one({1, 2, 3}), m), Error);
}

TEST_P(Analyses, AblationIsTheSameAsWritingItByHand) {
  Loaded l = load(GetParam());
  const Batch b = one(kTokens);
  const Metric loss{};
  const GptParts p = gpt_parts(*l.model, "test");
  const AblationResult r = ablate(*l.model, b, loss, Ablation::zero, nullptr, true, true, {1});
  ASSERT_EQ(r.heads.size(), static_cast<std::size_t>(p.L * p.H));
  for (std::int64_t h = 0; h < p.H; ++h) EXPECT_EQ(r.heads[h], 0.0) << "layer 0 not chosen";
  Hooks hooks;
  hooks.write({p.heads[1], -1, 2 * p.D, p.D, {}});
  const double by_hand = evaluate(loss, b, run_logits(*l.model, hooks, b), p.V) - r.baseline;
  EXPECT_DOUBLE_EQ(r.heads[p.H + 2], by_hand);
  EXPECT_NE(r.mlps[1], 0.0);
  EXPECT_THROW(ablate(*l.model, b, loss, Ablation::zero, nullptr, true, false, {9}), Error);
}

INSTANTIATE_TEST_SUITE_P(Tiny, Analyses, ::testing::Values("gpt-day18-tiny", "gpt2-tiny"));

TEST(Patterns, RepeatedTokensAreDeterministicAndRepeat) {
  const auto a = repeated_random_tokens(97, 8, 3), b = repeated_random_tokens(97, 8, 3);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, repeated_random_tokens(97, 8, 4));
  ASSERT_EQ(a.size(), 16u);
  for (std::size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(a[i], a[i + 8]);
    EXPECT_GE(a[i], 0);
    EXPECT_LT(a[i], 97);
  }
}

// Drawn from a pool (the ids of a text): only its ids, the same draws as over [0, V) mapped
// through the pool, and the whole-vocabulary draw is the pool 0..V-1.
TEST(Patterns, DrawsFromAPoolOfIds) {
  const std::vector<std::int32_t> pool = {32, 97, 101, 116};
  const auto t = repeated_random_tokens(pool, 20, 5);
  ASSERT_EQ(t.size(), 40u);
  for (const std::int32_t id : t) EXPECT_NE(std::find(pool.begin(), pool.end(), id), pool.end());
  const auto v = repeated_random_tokens(4, 20, 5);
  for (std::size_t i = 0; i < t.size(); ++i) EXPECT_EQ(t[i], pool[static_cast<std::size_t>(v[i])]);
  EXPECT_THROW(repeated_random_tokens(std::vector<std::int32_t>{}, 4, 1), Error);
}

TEST(Patterns, ScoresAreMeansOfProbabilitiesAndBadSequencesAreRefused) {
  Loaded l = load("gpt2-tiny");
  const PatternScores s = pattern_scores(*l.model, repeated_random_tokens(101, 6, 1));
  ASSERT_EQ(s.previous.size(), 8u);
  for (std::size_t i = 0; i < s.previous.size(); ++i) {
    EXPECT_GT(s.previous[i], 0.0);
    EXPECT_LT(s.previous[i], 1.0);
    EXPECT_GT(s.induction[i], 0.0);
    EXPECT_LT(s.induction[i], 1.0);
  }
  EXPECT_THROW(pattern_scores(*l.model, {1, 2, 3, 4}), Error);
  EXPECT_THROW(pattern_scores(*l.model, {1, 2, 1}), Error);
}

TEST(Analyses, RobertaIsRefused) {
  auto arena = Arena::create(Device::cpu(), 256ull << 20);
  auto model = build_model(load_config("roberta-tiny"), arena, DType::f32);
  EXPECT_THROW(gpt_parts(*model, "lens"), Error);
}

}  // namespace
}  // namespace cugpt::analysis
