// Forward hooks: globs, captured module outputs, and attention probabilities — rows that sum
// to 1, causal and padding zeros, agreement with PyTorch's probabilities (scripts/make_golden.py)
// — and that capturing does not change the logits; writes (zero, broadcast rows, a saved
// activation) change the logits exactly where they write and nowhere else.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "io/npy.h"
#include "models/activation_stats.h"
#include "models/factory.h"
#include "models/weights.h"
#include "nn/hooks.h"
#include "tools/batch.h"

namespace cugpt {
namespace {

const std::string kGolden = std::string(CUGPT_SOURCE_DIR) + "/tests/data/golden/";

TEST(Glob, StarStaysInOneSegmentAndDoubleStarCrosses) {
  EXPECT_TRUE(glob_match("blocks.*.sa", "blocks.3.sa"));
  EXPECT_TRUE(glob_match("blocks.*.sa", "blocks.11.sa"));
  EXPECT_FALSE(glob_match("blocks.*.sa", "blocks.3.sa.key"));
  EXPECT_FALSE(glob_match("blocks.*.sa", "blocks.3.x.sa"));
  EXPECT_TRUE(glob_match("blocks.**", "blocks.3.sa.key"));
  EXPECT_TRUE(glob_match("**.key", "blocks.3.sa.key"));
  EXPECT_TRUE(glob_match("transformer.h.1*", "transformer.h.10"));
  EXPECT_FALSE(glob_match("transformer.h.1", "transformer.h.10"));
  EXPECT_TRUE(glob_match("*", "lm_head"));
  EXPECT_FALSE(glob_match("*", "ln_f.x"));
  EXPECT_FALSE(glob_match("", "x"));
}

struct Loaded {
  ModelConfig config;
  std::shared_ptr<Arena> arena;
  std::unique_ptr<Model> model;
  Batch batch;
};

Loaded golden_model(const std::string& name) {
  Loaded l;
  l.config = load_config(name);
  l.arena = Arena::create(Device::cpu(), 256ull << 20);
  l.model = build_model(l.config, l.arena, DType::f32);
  load_weights(*l.model, kGolden + name + "/weights.safetensors");
  std::ifstream in(kGolden + name + "/input.json");
  const nlohmann::json j = nlohmann::json::parse(in);
  const auto rows = j.at("tokens").get<std::vector<std::vector<std::int32_t>>>();
  if (j.contains("attention_mask")) {
    const auto mask = j.at("attention_mask").get<std::vector<std::vector<std::int32_t>>>();
    l.batch = make_batch(l.config, rows, &mask);
  } else {
    l.batch = make_batch(l.config, rows);
  }
  return l;
}

// The attention module of layer 0 in each family's naming.
std::string layer0_attention(const std::string& name) {
  if (name == "gpt2-tiny") return "transformer.h.0.attn";
  if (name == "roberta-tiny") return "roberta.encoder.layer.0.attention.self";
  return "blocks.0.sa";
}

class HookFamilies : public ::testing::TestWithParam<const char*> {};

TEST_P(HookFamilies, CapturingLeavesTheLogitsUnchanged) {
  Loaded l = golden_model(GetParam());
  const std::vector<float> plain = l.model->forward(l.batch).to_floats();
  Hooks hooks;
  hooks.capture_outputs({"**"});
  hooks.capture_attention({"**"});
  l.model->attach_hooks(&hooks);
  const std::vector<float> hooked = l.model->forward(l.batch).to_floats();
  l.model->attach_hooks(nullptr);
  EXPECT_EQ(plain, hooked);  // bit for bit
  EXPECT_GT(hooks.captures().size(), static_cast<std::size_t>(4 * l.config.n_layer));
  EXPECT_NE(hooks.find(layer0_attention(GetParam()) + ".probs"), nullptr);
}

TEST_P(HookFamilies, ProbabilitiesMatchPyTorch) {
  const std::string name = GetParam();
  Loaded l = golden_model(name);
  Hooks hooks;
  hooks.capture_attention({layer0_attention(name)});
  l.model->attach_hooks(&hooks);
  l.model->forward(l.batch);
  ASSERT_EQ(hooks.captures().size(), 1u);
  const Capture& c = hooks.captures()[0];
  const NpyArray want = read_npy(kGolden + name + "/probs_layer0.npy");
  ASSERT_EQ(c.shape.vec(), want.shape);
  const std::vector<float> w = want.as_floats();
  double worst = 0;
  for (std::size_t i = 0; i < w.size(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(c.values[i]) - w[i]));
  std::printf("%s layer 0: max |cugpt - torch| = %.3g\n", name.c_str(), worst);
  EXPECT_LE(worst, 1e-5);
}

// Rows sum to 1; a causal model gives exact zeros above the diagonal; a padded key (RoBERTa's
// second sequence) gets exactly zero in every row of its sequence.
TEST_P(HookFamilies, RowsSumToOneAndMasksGiveZeros) {
  const std::string name = GetParam();
  Loaded l = golden_model(name);
  Hooks hooks;
  hooks.capture_attention({"**"});
  l.model->attach_hooks(&hooks);
  l.model->forward(l.batch);
  ASSERT_EQ(hooks.captures().size(), static_cast<std::size_t>(l.config.n_layer));
  const bool causal = l.config.family != ModelFamily::roberta;
  const std::int64_t B = l.batch.B, T = l.batch.T, H = l.config.n_head;
  int padded_checked = 0;
  for (const Capture& c : hooks.captures()) {
    ASSERT_EQ(c.shape.vec(), (std::vector<std::int64_t>{B, H, T, T})) << c.name;
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t h = 0; h < H; ++h)
        for (std::int64_t i = 0; i < T; ++i) {
          const float* row = c.values.data() + ((b * H + h) * T + i) * T;
          double sum = 0;
          for (std::int64_t j = 0; j < T; ++j) {
            sum += row[j];
            if (causal && j > i) {
              ASSERT_EQ(row[j], 0.0f) << c.name << " above the diagonal";
            }
            if (!l.batch.attention_mask.empty() && l.batch.attention_mask[b * T + j] == 0) {
              ASSERT_EQ(row[j], 0.0f) << c.name << " attends to padding";
              ++padded_checked;
            }
          }
          EXPECT_NEAR(sum, 1.0, 1e-5) << c.name << " b" << b << " h" << h << " row " << i;
        }
  }
  if (name == "roberta-tiny") {
    EXPECT_GT(padded_checked, 0) << "the golden batch has padding";
  }
}

INSTANTIATE_TEST_SUITE_P(Families, HookFamilies,
                         ::testing::Values("gpt-day18-tiny", "gpt2-tiny", "roberta-tiny"));

TEST(Hooks, GlobSelectsEveryBlockInOrderWithItsShape) {
  Loaded l = golden_model("gpt-day18-tiny");
  Hooks hooks;
  hooks.capture_outputs({"blocks.*.sa", "embeddings"});
  l.model->attach_hooks(&hooks);
  l.model->forward(l.batch);
  ASSERT_EQ(hooks.captures().size(), static_cast<std::size_t>(l.config.n_layer + 1));
  EXPECT_EQ(hooks.captures()[0].name, "embeddings");
  for (std::int64_t i = 0; i < l.config.n_layer; ++i) {
    const Capture& c = hooks.captures()[static_cast<std::size_t>(i + 1)];
    EXPECT_EQ(c.name, "blocks." + std::to_string(i) + ".sa");
    EXPECT_EQ(c.shape.vec(), (std::vector<std::int64_t>{l.batch.B, l.batch.T, l.config.n_embd}));
    EXPECT_EQ(c.values.size(), static_cast<std::size_t>(c.shape.numel()));
  }
}

TEST(Hooks, DetachedModelCapturesNothing) {
  Loaded l = golden_model("gpt2-tiny");
  Hooks hooks;
  hooks.capture_outputs({"**"});
  l.model->attach_hooks(&hooks);
  l.model->attach_hooks(nullptr);
  l.model->forward(l.batch);
  EXPECT_TRUE(hooks.captures().empty());
}

// A causal, uniform head: row i spreads over i + 1 keys, entropy ln(i + 1); a peaked head has
// entropy 0; an all-masked row is left out of the mean.
TEST(ActivationStats, EntropyOfKnownRows) {
  const std::int64_t T = 4;
  std::vector<float> probs(2 * T * T, 0.0f);
  double want = 0;
  for (std::int64_t i = 0; i < T; ++i) {
    for (std::int64_t j = 0; j <= i; ++j) probs[i * T + j] = 1.0f / static_cast<float>(i + 1);
    want += std::log(static_cast<double>(i + 1)) / T;
  }
  for (std::int64_t i = 0; i < T - 1; ++i) probs[T * T + i * T] = 1.0f;  // head 1: peaked
  const std::vector<double> e = attention_entropy(probs, 1, 2, T);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_NEAR(e[0], want, 1e-6);
  EXPECT_NEAR(e[1], 0.0, 1e-12);
  EXPECT_THROW(attention_entropy(probs, 1, 3, T), Error);
}

TEST(ActivationStats, MeanStdRmsAndLargestMagnitude) {
  const ValueStats s = value_stats({1.0f, -3.0f, 2.0f, 0.0f});
  EXPECT_DOUBLE_EQ(s.mean, 0.0);
  EXPECT_DOUBLE_EQ(s.rms, std::sqrt(14.0 / 4));
  EXPECT_DOUBLE_EQ(s.std, std::sqrt(14.0 / 4));
  EXPECT_DOUBLE_EQ(s.max_abs, 3.0);
}

// --- Writes ---------------------------------------------------------------------------------

std::vector<float> logits_with(Loaded& l, Hooks& hooks) {
  l.model->attach_hooks(&hooks);
  std::vector<float> out = l.model->forward(l.batch).to_floats();
  l.model->attach_hooks(nullptr);
  return out;
}

// Which (b, t) rows of (B, T, V) logits differ from the reference at all.
std::vector<bool> changed_rows(const std::vector<float>& a, const std::vector<float>& b,
                               std::int64_t V) {
  std::vector<bool> out(a.size() / static_cast<std::size_t>(V), false);
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) out[i / static_cast<std::size_t>(V)] = true;
  return out;
}

// The last layer's attention heads: what they write reaches only their own position's logits.
std::string last_heads(const ModelConfig& c) {
  const std::string l = std::to_string(c.n_layer - 1);
  return c.family == ModelFamily::gpt2 ? "transformer.h." + l + ".attn.heads"
                                       : "blocks." + l + ".sa.heads";
}

class WriteFamilies : public ::testing::TestWithParam<const char*> {};

TEST_P(WriteFamilies, ZeroingOneHeadAtOnePositionChangesOnlyThatPositionsLogits) {
  Loaded l = golden_model(GetParam());
  const std::int64_t T = l.batch.T, V = l.config.vocab_size, D = l.config.head_dim();
  Hooks none;
  const std::vector<float> plain = logits_with(l, none);
  const std::int64_t pos = 5, head = 2;
  Hooks hooks;
  hooks.write({last_heads(l.config), pos, head * D, D, {}});
  const std::vector<bool> changed = changed_rows(plain, logits_with(l, hooks), V);
  for (std::int64_t b = 0; b < l.batch.B; ++b)
    for (std::int64_t t = 0; t < T; ++t)
      EXPECT_EQ(changed[b * T + t], t == pos) << "batch " << b << " position " << t;
}

TEST_P(WriteFamilies, AResidualWriteChangesThatPositionAndLaterOnesOnly) {
  Loaded l = golden_model(GetParam());
  const std::int64_t T = l.batch.T, V = l.config.vocab_size;
  Hooks none;
  const std::vector<float> plain = logits_with(l, none);
  const std::string block0 = l.config.family == ModelFamily::gpt2 ? "transformer.h.0" : "blocks.0";
  const std::int64_t pos = 4;
  Hooks hooks;
  hooks.write({block0, pos, 0, -1, std::vector<float>(l.config.n_embd, 0.5f)});
  const std::vector<bool> changed = changed_rows(plain, logits_with(l, hooks), V);
  for (std::int64_t b = 0; b < l.batch.B; ++b)
    for (std::int64_t t = 0; t < T; ++t)
      EXPECT_EQ(changed[b * T + t], t >= pos) << "causal: batch " << b << " position " << t;
}

TEST_P(WriteFamilies, WritingBackTheSavedActivationChangesNothing) {
  Loaded l = golden_model(GetParam());
  Hooks save;
  save.capture_outputs({"**"});
  const std::vector<float> plain = logits_with(l, save);
  Hooks hooks;
  for (const Capture& c : save.captures()) hooks.write({c.name, -1, 0, -1, c.values});
  EXPECT_EQ(plain, logits_with(l, hooks));  // bit for bit: f32 through f32
  hooks.clear_writes();
  EXPECT_EQ(plain, logits_with(l, hooks));
}

TEST_P(WriteFamilies, AGlobWritesEveryMatchAndCapturesSeeTheWrittenValue) {
  Loaded l = golden_model(GetParam());
  const std::string glob =
      l.config.family == ModelFamily::gpt2 ? "transformer.h.*.mlp" : "blocks.*.ffwd.net";
  Hooks hooks;
  hooks.write({glob, -1, 0, -1, {}});
  hooks.capture_outputs({glob});
  Hooks none;
  EXPECT_NE(logits_with(l, none), logits_with(l, hooks));
  ASSERT_EQ(hooks.captures().size(), static_cast<std::size_t>(l.config.n_layer));
  for (const Capture& c : hooks.captures())
    for (float v : c.values) ASSERT_EQ(v, 0.0f) << c.name;
}

INSTANTIATE_TEST_SUITE_P(Families, WriteFamilies, ::testing::Values("gpt-day18-tiny", "gpt2-tiny"));

TEST(HookWrites, RowsBroadcastOverBatchAndPositions) {
  auto arena = Arena::create(Device::cpu(), 1 << 20);
  const std::int64_t B = 2, T = 3, N = 4;
  Tensor t = Tensor::empty(arena, {B, T, N}, DType::f32, Category::activation);
  std::vector<float> x(B * T * N);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  t.copy_from_floats(x);
  std::vector<float> seq(T * N);
  for (std::size_t i = 0; i < seq.size(); ++i) seq[i] = -static_cast<float>(i) - 1;
  Hooks hooks;
  hooks.write({"a", -1, 1, 2, {10, 11, 12, 13}});  // one row everywhere, columns 1 and 2
  hooks.write({"b", 1, 0, -1, seq});               // one sequence, position 1 only
  const std::vector<float> a = hooks.apply("a", t).to_floats();
  const std::vector<float> b = hooks.apply("b", t).to_floats();
  for (std::int64_t r = 0; r < B * T; ++r)
    for (std::int64_t c = 0; c < N; ++c) {
      const std::size_t i = static_cast<std::size_t>(r * N + c);
      EXPECT_EQ(a[i], c == 1 || c == 2 ? 10.0f + c : x[i]);
      EXPECT_EQ(b[i], r % T == 1 ? seq[(r % T) * N + c] : x[i]);
    }
  EXPECT_EQ(t.to_floats(), x) << "the hooked tensor itself is left alone";
  EXPECT_TRUE(hooks.apply("c", t).shares_storage(t)) << "no write: the same tensor";
  Hooks bad;
  bad.write({"a", -1, 0, -1, {1, 2, 3}});
  EXPECT_THROW(bad.apply("a", t), Error);
  Hooks cols;
  cols.write({"a", -1, 3, 2, {}});
  EXPECT_THROW(cols.apply("a", t), Error);
  Hooks pos;
  pos.write({"a", 3, 0, -1, {}});
  EXPECT_THROW(pos.apply("a", t), Error);
}

}  // namespace
}  // namespace cugpt
