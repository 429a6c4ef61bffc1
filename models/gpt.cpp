#include "models/gpt.h"

#include "nn/ops.h"

namespace cugpt {

namespace {

bool is_gpt2(const ModelConfig& c) {
  return c.family == ModelFamily::gpt2;
}

AttentionSpec attention_spec(const ModelConfig& c) {
  AttentionSpec s;
  s.n_embd = c.n_embd;
  s.n_head = c.n_head;
  s.causal = true;
  if (is_gpt2(c)) {
    s.fused_qkv = true;
    s.qkv_bias = true;
    s.out_name = "c_proj";
    s.layout = WeightLayout::in_out;
  } else {
    // The Day-18 document counts query/key/value as bias-free C x C matrices.
    s.fused_qkv = false;
    s.qkv_bias = false;
    s.out_name = "proj";
  }
  return s;
}

MlpSpec mlp_spec(const ModelConfig& c) {
  MlpSpec s;
  s.n_embd = c.n_embd;
  s.hidden = c.ffn_dim;
  s.activation = c.activation;
  if (is_gpt2(c)) {
    s.layout = WeightLayout::in_out;
  } else {
    s.up_name = "0";  // nn.Sequential(Linear, ReLU, Linear): the linears are items 0 and 2
    s.down_name = "2";
  }
  return s;
}

}  // namespace

GptBlock::GptBlock(const ModelConfig& c, const std::shared_ptr<Arena>& arena, DType dtype)
    : ln1_(arena, c.n_embd, c.layer_norm_eps, dtype),
      ln2_(arena, c.n_embd, c.layer_norm_eps, dtype),
      attn_(arena, attention_spec(c), dtype),
      mlp_(arena, mlp_spec(c), dtype) {
  if (is_gpt2(c)) {
    register_module("ln_1", ln1_);
    register_module("attn", attn_);
    register_module("ln_2", ln2_);
    register_module("mlp", mlp_);
  } else {
    register_module("sa", attn_);
    ffwd_.register_module("net", mlp_);
    register_module("ffwd", ffwd_);
    register_module("ln1", ln1_);
    register_module("ln2", ln2_);
  }
}

Tensor GptBlock::forward(const Tensor& x) const {
  const ops::AddNorm h = add_ln2(x, attn_.forward(ln1_.forward(x)));
  return hooked(ops::add(h.sum, mlp_.forward(h.normed)));
}

ops::AddNorm GptBlock::add_ln2(const Tensor& x, const Tensor& attn_out) const {
  return ops::add_layernorm(x, attn_out, ln2_.weight(), ln2_.bias(), ln2_.eps());
}

Gpt::Gpt(const ModelConfig& c, const std::shared_ptr<Arena>& arena, DType dtype)
    : Model(c, dtype),
      gpt2_(is_gpt2(c)),
      wte_(arena, c.vocab_size, c.n_embd, dtype),
      wpe_(arena, c.max_positions, c.n_embd, dtype),
      ln_f_(arena, c.n_embd, c.layer_norm_eps, dtype) {
  if (c.family == ModelFamily::roberta) throw Error("Gpt: config is a roberta model");
  for (std::int64_t i = 0; i < c.n_layer; ++i)
    blocks_.add(std::make_unique<GptBlock>(c, arena, dtype));
  if (gpt2_) {
    transformer_.register_module("wte", wte_);
    transformer_.register_module("wpe", wpe_);
    transformer_.register_module("h", blocks_);
    transformer_.register_module("ln_f", ln_f_);
    register_module("transformer", transformer_);
    tied_head_.register_parameter("weight", wte_.weight());
    register_module("lm_head", tied_head_);
  } else {
    register_module("token_embedding_table", wte_);
    register_module("position_embedding_table", wpe_);
    register_module("blocks", blocks_);
    register_module("ln_f", ln_f_);
    lm_head_ = std::make_unique<Linear>(arena, c.n_embd, c.vocab_size, true, dtype);
    register_module("lm_head", *lm_head_);
  }
}

Tensor Gpt::forward(const Batch& batch) const {
  const Tensor h = hidden(batch);
  ArenaTag tag(h.arena(), "lm_head");
  return head(h);
}

Tensor Gpt::hidden(const Batch& batch) const {
  validate(batch);
  std::vector<std::int32_t> positions(batch.tokens.size());
  for (std::size_t i = 0; i < positions.size(); ++i)
    positions[i] = static_cast<std::int32_t>(i % static_cast<std::size_t>(batch.T));
  Tensor x = ops::embedding(batch.tokens, positions, batch.B, batch.T, wte_.weight(), wpe_.weight(),
                            nullptr);
  x = hook_as("embeddings", std::move(x));  // the residual stream entering the first block
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    ArenaTag tag(x.arena(), "block " + std::to_string(i));
    x = blocks_[i].forward(x);
  }
  ArenaTag tag(x.arena(), "lm_head");
  return ln_f_.forward(x);
}

Tensor Gpt::head(const Tensor& h) const {
  return gpt2_ ? ops::linear(h, wte_.weight(), nullptr, false) : lm_head_->forward(h);
}

Tensor GptBlock::forward_cached(const Tensor& x, KvCache& cache, std::size_t layer) const {
  const ops::AddNorm h = add_ln2(x, attn_.forward_cached(ln1_.forward(x), cache, layer));
  return ops::add(h.sum, mlp_.forward(h.normed));
}

KvCache Gpt::make_cache(std::int64_t batch, std::int64_t t_max) const {
  if (batch <= 0 || t_max <= 0 || t_max > config().max_positions)
    throw Error("KV cache of " + std::to_string(t_max) + " positions: " + config().name + " has " +
                std::to_string(config().max_positions));
  return KvCache(wte_.weight().arena_ptr(), config().n_layer, batch, t_max, config().n_embd,
                 dtype());
}

Tensor Gpt::forward_cached(const Batch& batch, KvCache& cache) const {
  validate(batch);
  const std::int64_t past = cache.length();
  if (batch.B != cache.batch())
    throw Error("batch of " + std::to_string(batch.B) + " for a cache of " +
                std::to_string(cache.batch()) + " sequences");
  if (past + batch.T > cache.t_max())
    throw Error("generation reached " + std::to_string(past + batch.T) +
                " positions; the cache holds " + std::to_string(cache.t_max()));
  std::vector<std::int32_t> positions(batch.tokens.size());
  for (std::size_t i = 0; i < positions.size(); ++i)
    positions[i] = static_cast<std::int32_t>(past + static_cast<std::int64_t>(i) % batch.T);
  Tensor x = ops::embedding(batch.tokens, positions, batch.B, batch.T, wte_.weight(), wpe_.weight(),
                            nullptr);
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    ArenaTag tag(x.arena(), "block " + std::to_string(i));
    x = blocks_[i].forward_cached(x, cache, i);
  }
  cache.advance(batch.T);
  ArenaTag tag(x.arena(), "lm_head");
  // Only the last position's logits are needed to pick the next token: skip T-1 rows of the
  // (often largest) product.
  x = ops::last_position(x);
  x = ln_f_.forward(x);
  return head(x);
}

std::vector<ParamSection> Gpt::sections() const {
  const ModelConfig& c = config();
  const std::int64_t C = c.n_embd;
  // Per block: q, k, v and the output projection (4 C^2) plus the FFN's two matrices.
  const std::int64_t per_block = 4 * C * C + 2 * C * c.ffn_dim;
  const std::string blocks = std::to_string(c.n_layer) + " Transformer Blocks";
  if (gpt2_) {
    return {{"Token Embedding", c.vocab_size * C, {"transformer.wte."}, "shared with LM Head"},
            {"Position Embedding", c.max_positions * C, {"transformer.wpe."}, ""},
            {blocks, c.n_layer * per_block, {"transformer.h."}, ""},
            {"Final LayerNorm", 0, {"transformer.ln_f."}, ""},
            {"LM Head", 0, {"lm_head."}, "tied to transformer.wte"}};
  }
  return {{"Token Embedding", c.vocab_size * C, {"token_embedding_table."}, ""},
          {"Position Embedding", c.max_positions * C, {"position_embedding_table."}, ""},
          {blocks, c.n_layer * per_block, {"blocks."}, ""},
          {"Final LayerNorm", 0, {"ln_f."}, ""},
          {"LM Head", C * c.vocab_size, {"lm_head."}, ""}};
}

std::vector<std::string> Gpt::optional_prefixes() const {
  if (gpt2_) return {"transformer."};
  return {};
}

}  // namespace cugpt
