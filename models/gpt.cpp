#include "models/gpt.h"

#include <cstdlib>
#include <string>

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

std::int64_t logits_pitch_for(std::int64_t V, std::int64_t multiple) {
  if (multiple < 1) throw Error("logits pitch multiple " + std::to_string(multiple));
  return (V + multiple - 1) / multiple * multiple;
}

std::int64_t logits_pitch_multiple_from_env() {
  const char* v = std::getenv("CUGPT_LOGITS_PITCH");
  if (!v || !*v) return 1;
  const std::string s(v);
  const bool digits = s.size() <= 4 && s.find_first_not_of("0123456789") == std::string::npos;
  const long m = digits ? std::stol(s) : 0;
  if (m < 1 || m > 4096)
    throw Error("CUGPT_LOGITS_PITCH=" + s +
                ": expected a whole number from 1 to 4096 (64 pads GPT-2's logits rows to 50304)");
  return m;
}

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
      pitch_(logits_pitch_for(c.vocab_size, logits_pitch_multiple_from_env())),
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
  return head(h, pitch_now());
}

void Gpt::set_logits_pitch_multiple(std::int64_t multiple) {
  pitch_ = logits_pitch_for(config().vocab_size, multiple);
}

std::int64_t Gpt::pitch_now() const {
  return hooks() ? config().vocab_size : pitch_;
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

Tensor Gpt::head(const Tensor& h, std::int64_t pitch) const {
  if (gpt2_) return ops::linear(h, wte_.weight(), nullptr, false, pitch);
  // The Day-18 lm_head's own forward (a hook point) when compact; padded, the same product
  // without the hook (pitch_now() is compact whenever hooks are attached).
  if (pitch == config().vocab_size) return lm_head_->forward(h);
  return ops::linear(h, lm_head_->weight(), lm_head_->bias(), false, pitch);
}

Tensor GptBlock::forward_cached(const Tensor& x, KvCache& cache, std::size_t layer,
                                const Tensor* past_device, bool fuse_ln) const {
  if (fuse_ln)  // both LayerNorms in the products after them, both residual adds in the GEMMs
    return mlp_.forward_normed_plus(attn_.forward_cached(x, cache, layer, past_device, &ln1_),
                                    ln2_);
  const ops::AddNorm h =
      add_ln2(x, attn_.forward_cached(ln1_.forward(x), cache, layer, past_device));
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
  // Compact: B rows only, which sampling (models/generate.cpp) reads as (B, 1, V).
  return head(x, config().vocab_size);
}

Tensor Gpt::step_blocks(const Tensor& tokens, const Tensor& positions, KvCache& cache,
                        bool fuse_ln) const {
  const std::int64_t B = cache.batch();
  if (cache.length() + 1 > cache.t_max())
    throw Error("generation reached " + std::to_string(cache.length() + 1) +
                " positions; the cache holds " + std::to_string(cache.t_max()));
  Tensor x = ops::embedding(tokens, positions, B, 1, wte_.weight(), wpe_.weight(), nullptr);
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    ArenaTag tag(x.arena(), "block " + std::to_string(i));
    x = blocks_[i].forward_cached(x, cache, i, &positions, fuse_ln);
  }
  cache.advance(1);
  return x;
}

const Tensor& Gpt::head_weight() const {
  return gpt2_ ? wte_.weight() : lm_head_->weight();
}

const Tensor* Gpt::head_bias() const {
  return gpt2_ ? nullptr : lm_head_->bias();
}

Tensor Gpt::forward_step(const Tensor& tokens, const Tensor& positions, KvCache& cache,
                         bool fuse_ln) const {
  Tensor x = step_blocks(tokens, positions, cache, fuse_ln);
  ArenaTag tag(x.arena(), "lm_head");
  if (!fuse_ln) return head(ln_f_.forward(x), config().vocab_size);  // (B, 1, V)
  if (gpt2_)
    return ops::ln_linear(x, ln_f_.weight(), ln_f_.bias(), ln_f_.eps(), wte_.weight(), nullptr,
                          false);
  return lm_head_->forward_normed(x, ln_f_);
}

bool Gpt::greedy_step_fits(std::int64_t batch) const {
  return ops::ln_linear_argmax_fits(batch, config().n_embd, config().vocab_size, dtype(), false);
}

void Gpt::forward_step_greedy(const Tensor& tokens, const Tensor& positions, KvCache& cache,
                              Tensor& keys) const {
  Tensor x = step_blocks(tokens, positions, cache, true);
  ArenaTag tag(x.arena(), "lm_head");
  ops::ln_linear_argmax(x, ln_f_.weight(), ln_f_.bias(), ln_f_.eps(), head_weight(), head_bias(),
                        false, keys);
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
