#include <gtest/gtest.h>

#include "models/config.h"
#include "tools/batch.h"

namespace cugpt {
namespace {

// The error message of parse_config on `json`, or "" if it parsed.
std::string error_of(const std::string& json) {
  try {
    parse_config(json, "test.json", "test");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const char* kGpt2 =
    R"({"model_type": "gpt2", "vocab_size": 100, "n_positions": 16, "n_embd": 32,
        "n_layer": 2, "n_head": 4})";

TEST(Config, BundledConfigsLoad) {
  const auto names = bundled_configs();
  EXPECT_GE(names.size(), 9u);
  for (const auto& n : names) {
    const ModelConfig c = load_config(n);
    EXPECT_EQ(c.name, n);
    EXPECT_EQ(c.n_embd % c.n_head, 0);
  }
  const ModelConfig k = load_config("kantaibert");
  EXPECT_EQ(k.family, ModelFamily::roberta);
  EXPECT_EQ(k.vocab_size, 52000);
  EXPECT_EQ(k.max_positions, 514);
  EXPECT_EQ(k.ffn_dim, 3072);
  EXPECT_EQ(k.pad_token_id, 1);
  EXPECT_EQ(k.activation, kernels::Activation::gelu_erf);
  const ModelConfig d = load_config("gpt-day18");
  EXPECT_EQ(d.family, ModelFamily::gpt_day18);
  EXPECT_EQ(d.ffn_dim, 4 * 768);
  EXPECT_EQ(d.activation, kernels::Activation::relu);
  EXPECT_EQ(load_config(std::string(CUGPT_SOURCE_DIR) + "/configs/gpt2-124m.json").n_layer, 12);
}

TEST(Config, Gpt2DefaultsAndHuggingFaceExtras) {
  const ModelConfig c = parse_config(
      R"({"model_type": "gpt2", "vocab_size": 100, "n_positions": 16, "n_embd": 32,
          "n_layer": 2, "n_head": 4, "n_inner": null, "architectures": ["GPT2LMHeadModel"],
          "bos_token_id": 50256})",
      "x", "x");
  EXPECT_EQ(c.ffn_dim, 128);
  EXPECT_EQ(c.activation, kernels::Activation::gelu_tanh);
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-5);
  EXPECT_TRUE(c.causal());
}

TEST(Config, ErrorsNameTheField) {
  EXPECT_EQ(error_of(kGpt2), "");
  EXPECT_NE(error_of("{not json").find("invalid JSON"), std::string::npos);
  EXPECT_NE(error_of("[1, 2]").find("expected a JSON object"), std::string::npos);
  EXPECT_NE(error_of(R"({"vocab_size": 3})").find("'model_type'"), std::string::npos);
  EXPECT_NE(error_of(R"({"model_type": "llama"})").find("unknown model_type 'llama'"),
            std::string::npos);
  EXPECT_EQ(error_of(R"({"model_type": "gpt2", "vocab_size": 100, "n_positions": 16,
                         "n_embd": 32, "n_layer": 2})"),
            "config 'test.json': missing field 'n_head'");
  EXPECT_EQ(error_of(R"({"model_type": "gpt2", "vocab_size": "100", "n_positions": 16,
                         "n_embd": 32, "n_layer": 2, "n_head": 4})"),
            "config 'test.json': field 'vocab_size' must be an integer");
  EXPECT_NE(error_of(R"({"model_type": "gpt2", "vocab_size": 100, "n_positions": 16,
                         "n_embd": 30, "n_layer": 2, "n_head": 4})")
                .find("n_embd 30 is not divisible by n_head 4"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model_type": "gpt2", "vocab_size": 0, "n_positions": 16,
                         "n_embd": 32, "n_layer": 2, "n_head": 4})")
                .find("'vocab_size' = 0 is out of range"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model_type": "gpt2", "vocab_size": 100, "n_positions": 16,
                         "n_embd": 32, "n_layer": -2, "n_head": 4})")
                .find("'n_layer' = -2"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model_type": "gpt2", "vocab_size": 100, "n_positions": 16,
                         "n_embd": 32, "n_layer": 2, "n_head": 4,
                         "activation_function": "swish"})")
                .find("'activation_function' = 'swish'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model_type": "roberta", "vocab_size": 100,
                         "max_position_embeddings": 2, "type_vocab_size": 1, "hidden_size": 32,
                         "num_hidden_layers": 1, "num_attention_heads": 4,
                         "intermediate_size": 64, "pad_token_id": 1})")
                .find("max_position_embeddings"),
            std::string::npos);
}

TEST(Config, UnknownNameListsTheBundledOnes) {
  try {
    load_config("gpt5");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gpt-day18"), std::string::npos) << e.what();
  }
}

TEST(Batch, ParsesRowsAndRejectsJunk) {
  const auto rows = parse_token_rows("1,2,3; 4, 5 ,6");
  EXPECT_EQ(rows, (std::vector<std::vector<std::int32_t>>{{1, 2, 3}, {4, 5, 6}}));
  EXPECT_THROW(parse_token_rows(""), Error);
  EXPECT_THROW(parse_token_rows("1,,2"), Error);
  EXPECT_THROW(parse_token_rows("1,2;"), Error);
  EXPECT_THROW(parse_token_rows("1,x"), Error);
  EXPECT_THROW(parse_token_rows("99999999999"), Error);
  EXPECT_EQ(parse_token_rows("-1")[0][0], -1);  // range is the model's check
}

TEST(Batch, GptRejectsRaggedRobertaPads) {
  const auto ragged = parse_token_rows("0,5,6,2;0,7,2");
  try {
    make_batch(load_config("gpt2-tiny"), ragged);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("different lengths"), std::string::npos);
  }
  const Batch b = make_batch(load_config("roberta-tiny"), ragged);
  EXPECT_EQ(b.T, 4);
  EXPECT_EQ(b.tokens, (std::vector<std::int32_t>{0, 5, 6, 2, 0, 7, 2, 1}));
  EXPECT_EQ(b.attention_mask, (std::vector<std::int32_t>{1, 1, 1, 1, 1, 1, 1, 0}));
  const Batch full = make_batch(load_config("gpt2-tiny"), parse_token_rows("1,2;3,4"));
  EXPECT_TRUE(full.attention_mask.empty());
}

}  // namespace
}  // namespace cugpt
