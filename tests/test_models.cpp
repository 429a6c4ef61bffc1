#include <gtest/gtest.h>

#include "models/factory.h"
#include "models/roberta.h"

namespace cugpt {
namespace {

std::unique_ptr<Model> on_meta(const std::string& name, DType dtype = DType::f32,
                               std::shared_ptr<Arena>* arena_out = nullptr) {
  auto arena = Arena::create(Device::meta(), 64ull << 30);
  if (arena_out) *arena_out = arena;
  return build_model(load_config(name), arena, dtype);
}

TEST(Models, KantaiBertMatchesTheDocument) {
  auto m = on_meta("kantaibert");
  const auto params = m->named_parameters();
  ASSERT_EQ(params.size(), 106u);
  EXPECT_EQ(m->parameter_count(), 83504416);
  EXPECT_EQ(m->trainable_count(), 83504416);
  // The document's listing, tensor by tensor.
  std::vector<std::string> shapes;
  for (const auto& p : params) shapes.push_back(p.tensor.shape().str());
  std::vector<std::string> expected = {"[52000, 768]", "[514, 768]", "[1, 768]", "[768]", "[768]"};
  for (int layer = 0; layer < 6; ++layer) {
    for (int i = 0; i < 4; ++i) {  // query, key, value, attention.output.dense
      expected.push_back("[768, 768]");
      expected.push_back("[768]");
    }
    expected.insert(expected.end(), {"[768]", "[768]", "[3072, 768]", "[3072]", "[768, 3072]",
                                     "[768]", "[768]", "[768]"});
  }
  expected.insert(expected.end(), {"[52000]", "[768, 768]", "[768]", "[768]", "[768]"});
  EXPECT_EQ(shapes, expected);
  EXPECT_EQ(shapes[15], "[3072, 768]");
  EXPECT_EQ(shapes[16], "[3072]");
  EXPECT_EQ(shapes[17], "[768, 3072]");
  EXPECT_EQ(shapes[101], "[52000]");
  EXPECT_EQ(params[0].name, "roberta.embeddings.word_embeddings.weight");
  EXPECT_EQ(params[5].name, "roberta.encoder.layer.0.attention.self.query.weight");
  EXPECT_EQ(params[11].name, "roberta.encoder.layer.0.attention.output.dense.weight");
  EXPECT_EQ(params[13].name, "roberta.encoder.layer.0.attention.output.LayerNorm.weight");
  EXPECT_EQ(params[15].name, "roberta.encoder.layer.0.intermediate.dense.weight");
  EXPECT_EQ(params[101].name, "lm_head.bias");
  EXPECT_EQ(params[102].name, "lm_head.dense.weight");
  EXPECT_EQ(params[105].name, "lm_head.layer_norm.bias");
}

TEST(Models, KantaiBertDecoderIsTied) {
  auto m = on_meta("kantaibert");
  const auto all = m->named_parameters_with_ties();
  ASSERT_EQ(all.size(), 108u);
  EXPECT_EQ(all[106].first.name, "lm_head.decoder.weight");
  EXPECT_EQ(all[106].second, "roberta.embeddings.word_embeddings.weight");
  EXPECT_EQ(all[107].first.name, "lm_head.decoder.bias");
  EXPECT_EQ(all[107].second, "lm_head.bias");
}

TEST(Models, GptDay18MatchesTheDocument) {
  auto m = on_meta("gpt-day18");
  const auto params = m->named_parameters();
  EXPECT_EQ(params.size(), 162u);
  EXPECT_EQ(m->parameter_count(), 134408960);
  std::int64_t analytic = 0;
  for (const auto& s : m->sections()) analytic += s.analytic;
  EXPECT_EQ(analytic, 134283264);
  const std::vector<std::string> first_block = {
      "blocks.0.sa.query.weight", "blocks.0.sa.key.weight",     "blocks.0.sa.value.weight",
      "blocks.0.sa.proj.weight",  "blocks.0.sa.proj.bias",      "blocks.0.ffwd.net.0.weight",
      "blocks.0.ffwd.net.0.bias", "blocks.0.ffwd.net.2.weight", "blocks.0.ffwd.net.2.bias",
      "blocks.0.ln1.weight",      "blocks.0.ln1.bias",          "blocks.0.ln2.weight",
      "blocks.0.ln2.bias"};
  EXPECT_EQ(params[0].name, "token_embedding_table.weight");
  EXPECT_EQ(params[1].name, "position_embedding_table.weight");
  for (std::size_t i = 0; i < first_block.size(); ++i)
    EXPECT_EQ(params[2 + i].name, first_block[i]);
  EXPECT_EQ(params[7].tensor.shape().str(), "[3072, 768]");
  EXPECT_EQ(params[158].name, "ln_f.weight");
  EXPECT_EQ(params[160].name, "lm_head.weight");
  EXPECT_EQ(params[160].tensor.shape().str(), "[32000, 768]");
  EXPECT_EQ(params[161].name, "lm_head.bias");
}

TEST(Models, Gpt2SmallHas124439808Parameters) {
  auto m = on_meta("gpt2-124m");
  const auto params = m->named_parameters();
  EXPECT_EQ(params.size(), 148u);
  EXPECT_EQ(m->parameter_count(), 124439808);
  EXPECT_EQ(params[0].name, "transformer.wte.weight");
  EXPECT_EQ(params[2].name, "transformer.h.0.ln_1.weight");
  EXPECT_EQ(params[4].name, "transformer.h.0.attn.c_attn.weight");
  EXPECT_EQ(params[4].tensor.shape().str(), "[768, 2304]");  // Conv1D keeps [in, out]
  EXPECT_EQ(params[147].name, "transformer.ln_f.bias");
  const auto all = m->named_parameters_with_ties();
  EXPECT_EQ(all.back().first.name, "lm_head.weight");
  EXPECT_EQ(all.back().second, "transformer.wte.weight");
}

TEST(Models, LargerGpt2CountsAreTheKnownOnes) {
  EXPECT_EQ(on_meta("gpt2-355m")->parameter_count(), 354823168);
  EXPECT_EQ(on_meta("gpt2-774m")->parameter_count(), 774030080);
  EXPECT_EQ(on_meta("gpt2-1558m")->parameter_count(), 1557611200);
}

// For every bundled config and dtype: the registry's bytes equal the arena's, and the sections
// cover every tensor exactly once.
TEST(Models, RegistryBytesEqualArenaBytesForEveryBundledConfig) {
  for (const std::string& name : bundled_configs()) {
    for (DType dtype : {DType::f32, DType::bf16, DType::f16}) {
      std::shared_ptr<Arena> arena;
      auto m = on_meta(name, dtype, &arena);
      EXPECT_EQ(m->bytes_by_category(), arena->stats().current) << name;
      std::uint64_t elems = 0;
      for (const auto& p : m->named_parameters())
        elems += static_cast<std::uint64_t>(p.tensor.numel());
      EXPECT_GE(arena->in_use(), elems * dtype_size(dtype)) << name;
      EXPECT_LT(arena->in_use(), elems * dtype_size(dtype) + 256 * m->named_parameters().size());
      std::int64_t covered = 0;
      for (const auto& p : m->named_parameters()) {
        int hits = 0;
        for (const auto& s : m->sections())
          for (const auto& prefix : s.prefixes) hits += p.name.rfind(prefix, 0) == 0;
        EXPECT_EQ(hits, 1) << name << ": " << p.name;
        covered += p.tensor.numel();
      }
      EXPECT_EQ(covered, m->parameter_count());
    }
  }
}

TEST(Models, TinyConfigsAreUnderAMillionParameters) {
  for (const char* name : {"gpt-day18-tiny", "gpt2-tiny", "roberta-tiny"}) {
    const auto n = on_meta(name)->parameter_count();
    EXPECT_GT(n, 1000) << name;
    EXPECT_LT(n, 1000000) << name;
  }
}

TEST(Models, RobertaPositionIdsCountNonPaddingTokens) {
  // pad = 1: "<s> a b <pad> <pad>" and "<s> a <pad> b c"
  const std::vector<std::int32_t> tokens = {0, 5, 6, 1, 1, 0, 7, 1, 8, 9};
  const auto pos = Roberta::position_ids(tokens, 2, 5, 1);
  EXPECT_EQ(pos, (std::vector<std::int32_t>{2, 3, 4, 1, 1, 2, 3, 1, 4, 5}));
}

}  // namespace
}  // namespace cugpt
