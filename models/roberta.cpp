#include "models/roberta.h"

#include "nn/ops.h"

namespace cugpt {

namespace {
AttentionSpec self_attention_spec(const ModelConfig& c) {
  AttentionSpec s;
  s.n_embd = c.n_embd;
  s.n_head = c.n_head;
  s.causal = false;
  s.fused_qkv = false;
  s.qkv_bias = true;
  s.out_name = "";  // the output dense lives in attention.output
  return s;
}
}  // namespace

RobertaLayer::RobertaLayer(const ModelConfig& c, const std::shared_ptr<Arena>& arena, DType dtype)
    : act_(c.activation),
      self_(arena, self_attention_spec(c), dtype),
      attn_dense_(arena, c.n_embd, c.n_embd, true, dtype),
      attn_ln_(arena, c.n_embd, c.layer_norm_eps, dtype),
      inter_dense_(arena, c.n_embd, c.ffn_dim, true, dtype),
      out_dense_(arena, c.ffn_dim, c.n_embd, true, dtype),
      out_ln_(arena, c.n_embd, c.layer_norm_eps, dtype) {
  attention_.register_module("self", self_);
  attention_output_.register_module("dense", attn_dense_);
  attention_output_.register_module("LayerNorm", attn_ln_);
  attention_.register_module("output", attention_output_);
  intermediate_.register_module("dense", inter_dense_);
  output_.register_module("dense", out_dense_);
  output_.register_module("LayerNorm", out_ln_);
  register_module("attention", attention_);
  register_module("intermediate", intermediate_);
  register_module("output", output_);
}

Tensor RobertaLayer::forward(const Tensor& x, const std::vector<std::int32_t>* key_mask) const {
  const Tensor a = attn_ln_.forward(ops::add(x, attn_dense_.forward(self_.forward(x, key_mask))));
  const Tensor h = ops::linear_act(a, inter_dense_.weight(), inter_dense_.bias(), false, act_);
  return hooked(out_ln_.forward(ops::add(a, out_dense_.forward(h))));
}

Roberta::Roberta(const ModelConfig& c, const std::shared_ptr<Arena>& arena, DType dtype)
    : Model(c, dtype),
      word_(arena, c.vocab_size, c.n_embd, dtype),
      position_(arena, c.max_positions, c.n_embd, dtype),
      token_type_(arena, c.type_vocab_size, c.n_embd, dtype),
      emb_ln_(arena, c.n_embd, c.layer_norm_eps, dtype),
      head_dense_(arena, c.n_embd, c.n_embd, true, dtype),
      head_ln_(arena, c.n_embd, c.layer_norm_eps, dtype) {
  if (c.family != ModelFamily::roberta) throw Error("Roberta: config is not a roberta model");
  for (std::int64_t i = 0; i < c.n_layer; ++i)
    layers_.add(std::make_unique<RobertaLayer>(c, arena, dtype));
  embeddings_.register_module("word_embeddings", word_);
  embeddings_.register_module("position_embeddings", position_);
  embeddings_.register_module("token_type_embeddings", token_type_);
  embeddings_.register_module("LayerNorm", emb_ln_);
  encoder_.register_module("layer", layers_);
  roberta_.register_module("embeddings", embeddings_);
  roberta_.register_module("encoder", encoder_);
  register_module("roberta", roberta_);

  head_bias_ = lm_head_.register_parameter(
      "bias", Tensor::zeros(arena, {c.vocab_size}, dtype, Category::parameter));
  lm_head_.register_module("dense", head_dense_);
  lm_head_.register_module("layer_norm", head_ln_);
  decoder_.register_parameter("weight", word_.weight());
  decoder_.register_parameter("bias", head_bias_);
  lm_head_.register_module("decoder", decoder_);
  register_module("lm_head", lm_head_);
}

std::vector<std::int32_t> Roberta::position_ids(const std::vector<std::int32_t>& tokens,
                                                std::int64_t B, std::int64_t T, std::int32_t pad) {
  std::vector<std::int32_t> pos(tokens.size());
  for (std::int64_t b = 0; b < B; ++b) {
    std::int32_t count = 0;
    for (std::int64_t t = 0; t < T; ++t) {
      const std::size_t i = static_cast<std::size_t>(b * T + t);
      if (tokens[i] != pad) ++count;
      pos[i] = tokens[i] != pad ? pad + count : pad;
    }
  }
  return pos;
}

Tensor Roberta::forward(const Batch& batch) const {
  validate(batch);
  const ModelConfig& c = config();
  const auto positions =
      position_ids(batch.tokens, batch.B, batch.T, static_cast<std::int32_t>(c.pad_token_id));
  const std::vector<std::int32_t>* mask =
      batch.attention_mask.empty() ? nullptr : &batch.attention_mask;
  Tensor x =
      emb_ln_.forward(ops::embedding(batch.tokens, positions, batch.B, batch.T, word_.weight(),
                                     position_.weight(), &token_type_.weight()));
  x = hook_as("embeddings", std::move(x));  // the residual stream entering the first layer
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    ArenaTag tag(x.arena(), "layer " + std::to_string(i));
    x = layers_[i].forward(x, mask);
  }
  ArenaTag tag(x.arena(), "lm_head");
  // The LM head always uses exact GELU, whatever hidden_act says (as in Hugging Face).
  x = head_ln_.forward(ops::linear_act(x, head_dense_.weight(), head_dense_.bias(), false,
                                       kernels::Activation::gelu_erf));
  return ops::linear(x, word_.weight(), &head_bias_, false);
}

std::vector<ParamSection> Roberta::sections() const {
  const ModelConfig& c = config();
  const std::int64_t C = c.n_embd;
  const std::int64_t per_layer = 4 * C * C + 2 * C * c.ffn_dim;
  return {
      {"Token Embedding",
       c.vocab_size * C,
       {"roberta.embeddings.word_embeddings."},
       "shared with the LM Head decoder"},
      {"Position Embedding", c.max_positions * C, {"roberta.embeddings.position_embeddings."}, ""},
      {"Token Type Embedding",
       c.type_vocab_size * C,
       {"roberta.embeddings.token_type_embeddings."},
       ""},
      {"Embedding LayerNorm", 0, {"roberta.embeddings.LayerNorm."}, ""},
      {std::to_string(c.n_layer) + " Encoder Layers",
       c.n_layer * per_layer,
       {"roberta.encoder."},
       ""},
      {"LM Head", C * C, {"lm_head."}, "decoder tied to word_embeddings, its bias to lm_head.bias"},
  };
}

}  // namespace cugpt
