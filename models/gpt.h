// The decoder-only GPT family, pre-LN, learned positions, causal attention, in two naming
// schemes so that checkpoints of either original project load by name:
//  - gpt-day18: token_embedding_table, position_embedding_table, blocks.N.{sa.{query,key,value,
//    proj}, ffwd.net.{0,2}, ln1, ln2}, ln_f, lm_head (own weight and bias), ReLU;
//  - gpt2: transformer.{wte, wpe, h.N.{ln_1, attn.{c_attn, c_proj}, ln_2, mlp.{c_fc, c_proj}},
//    ln_f} in Conv1D layout, lm_head.weight tied to transformer.wte.weight, GELU (tanh).
#pragma once

#include <functional>

#include "models/model.h"
#include "nn/attention.h"
#include "nn/container.h"
#include "nn/embedding.h"
#include "nn/gradients.h"
#include "nn/layernorm.h"
#include "nn/mlp.h"
#include "nn/ops.h"
#include "nn/ops_backward.h"

namespace cugpt {

class GptBlock : public Module {
 public:
  GptBlock(const ModelConfig& c, const std::shared_ptr<Arena>& arena, DType dtype);
  std::string type_name() const override { return "Block"; }
  Tensor forward(const Tensor& x) const;  // (B, T, C) -> (B, T, C)
  // fuse_ln (a fused decode step): ln_1 folded into the attention's input products
  // (ops::ln_linear), the cache writes into its attention, the MLP's residual add into its down
  // projection (ops::linear_add).
  Tensor forward_cached(const Tensor& x, KvCache& cache, std::size_t layer,
                        const Tensor* past_device = nullptr, bool fuse_ln = false) const;

  // Training. What the backward needs from the forward, less what the recompute level drops:
  // 1 drops the FFN activation, 2 also the LayerNorm outputs, 3 keeps only the block's input
  // and replays the block in the backward.
  struct Saved {
    Tensor x, h;  // the block's input and the residual stream after attention
    ops::NormOut ln1, ln2;
    MultiHeadAttention::Saved attn;
    Mlp::Saved mlp;
  };
  Tensor forward_train(const Tensor& x, Saved& saved, int recompute) const;
  Tensor backward(const Tensor& dout, Saved& saved, int recompute, Gradients& grads) const;

 private:
  // x + attention, and ln_2 of it: one fused kernel on cuda.
  ops::AddNorm add_ln2(const Tensor& x, const Tensor& attn_out) const;

  LayerNorm ln1_, ln2_;
  MultiHeadAttention attn_;
  Group ffwd_{"FeedForward"};  // the Day-18 model's wrapper around net
  Mlp mlp_;
};

// A training step's logits (B*T rows of V) are its largest tensor: 1.2 GiB for gpt-day18 at
// batch 40, T=256 in f32. They are computed, turned into their gradient and consumed in chunks
// of rows of at most this many bytes (whole multiples of 128 rows; at least 128).
constexpr std::uint64_t kLossChunkBytes = 64ull << 20;

// The logits' row pitch: V rounded up to a multiple of `multiple` (1: V itself). GPT-2's
// V = 50257 makes rows that are not 16-byte aligned, for which cuBLASLt offers no algorithm
// (the GEMM falls back to cublasGemmEx, slowly); a pitch of a multiple of 64 (50304) aligns
// every row. Only the logits buffer and its in-place gradient are padded: the weights, the
// checkpoints and everything a user sees keep V = vocab_size.
std::int64_t logits_pitch_for(std::int64_t V, std::int64_t multiple);

// The multiple the environment asks for: CUGPT_LOGITS_PITCH (a whole number from 1 to 4096;
// unset or empty: 1, the compact layout). Anything else throws a one-line error.
std::int64_t logits_pitch_multiple_from_env();

class Gpt : public Model {
 public:
  Gpt(const ModelConfig& c, const std::shared_ptr<Arena>& arena, DType dtype);
  std::string type_name() const override {
    return config().family == ModelFamily::gpt2 ? "GPT2LMHeadModel" : "GPTModel";
  }
  Tensor forward(const Batch& batch) const override;
  std::vector<ParamSection> sections() const override;
  std::vector<std::string> optional_prefixes() const override;

  // One training micro-step: forward with saved activations, the fused cross-entropy against
  // targets (B*T ids; ignore_index rows do not count), and the backward, which accumulates
  // grad_scale * d(mean loss) into the gradient store. Returns the mean loss. The
  // logits are computed loss_rows rows at a time (0: as many as kLossChunkBytes hold).
  // `after_block(i)`, if given, runs as soon as block i's backward has written its gradients
  // (blocks go last to first): where optimizer offload moves them to the host.
  double forward_backward(const Batch& batch, const std::vector<std::int32_t>& targets,
                          Gradients& grads, int recompute = 0, double grad_scale = 1.0,
                          std::int32_t ignore_index = -1, std::int64_t loss_rows = 0,
                          const std::function<void(std::size_t)>& after_block = {}) const;

  // The mean cross-entropy of the batch against targets without the gradient (evaluation): the
  // logits are computed in chunks of rows, as in forward_backward, never all at once.
  double loss(const Batch& batch, const std::vector<std::int32_t>& targets,
              std::int32_t ignore_index = -1, std::int64_t loss_rows = 0) const;

  // The row pitch of the logits that forward, loss and forward_backward compute: the
  // vocabulary rounded up to the multiple set here (at construction from CUGPT_LOGITS_PITCH,
  // logits_pitch_multiple_from_env; 1 by default, the compact layout, the same on every device
  // so that meta predicts the card). With a pitch above V, forward returns (B, T, pitch) logits
  // whose first V columns are the logits and whose others hold no values (read them with the
  // pitch, never as logits); with hooks attached forward stays compact (B, T, V), so captures
  // and writes see V columns; forward_cached is always compact.
  std::int64_t logits_pitch() const { return pitch_; }
  void set_logits_pitch_multiple(std::int64_t multiple);

  // A cache for `batch` sequences of up to t_max positions (at most the position table).
  KvCache make_cache(std::int64_t batch, std::int64_t t_max) const;
  // Processes the batch's tokens as the positions after those already in the cache, appends
  // their keys and values, and returns the logits of the last position only: (B, 1, V).
  Tensor forward_cached(const Batch& batch, KvCache& cache) const;
  // One decode step from ids already on the model's device: tokens and positions (B i32 each),
  // one token per row, every row at the position positions[0] (== cache.length(), which the
  // caller keeps so; a step reads positions[0] on the device, so a captured graph of it replays
  // at any position). Appends the keys and values there and returns the logits (B, 1, V),
  // compact. Nothing in it waits for the device or copies from the host. fuse_ln folds each
  // block's ln_1 into the attention's input products and ln_f into the head (ops::ln_linear;
  // the LayerNorms' own hooks do not run then).
  Tensor forward_step(const Tensor& tokens, const Tensor& positions, KvCache& cache,
                      bool fuse_ln = false) const;
  // The fused step (fuse_ln) for a greedy pick: the head's product and the argmax in one op
  // (ops::ln_linear_argmax), each row's order key maxed into keys (2 x batch i32, 0 before;
  // ops::argmax_ids turns them into the ids and resets them). The logits are never stored.
  // Only where greedy_step_fits(batch) (a function of the sizes and dtype: every device agrees).
  bool greedy_step_fits(std::int64_t batch) const;
  void forward_step_greedy(const Tensor& tokens, const Tensor& positions, KvCache& cache,
                           Tensor& keys) const;

  const Embedding& wte() const { return wte_; }
  const ModuleList<GptBlock>& blocks() const { return blocks_; }

 private:
  // The logits of the final LayerNorm's output: the Day-18 lm_head, or GPT-2's tied embedding,
  // rows `pitch` elements apart (padding after the first V columns).
  Tensor head(const Tensor& h, std::int64_t pitch) const;
  // The head's [V, C] weight and bias (the tied wte and none for GPT-2).
  const Tensor& head_weight() const;
  const Tensor* head_bias() const;
  // A decode step up to the final LayerNorm: the residual stream (B, 1, C), the cache advanced.
  Tensor step_blocks(const Tensor& tokens, const Tensor& positions, KvCache& cache,
                     bool fuse_ln) const;
  // The pitch a forward uses now: logits_pitch(), or V while hooks are attached.
  std::int64_t pitch_now() const;
  // The final LayerNorm's output (B, T, C) of the forward pass.
  Tensor hidden(const Batch& batch) const;
  // The head and the fused loss of a training step on the final LayerNorm's output h (B, T, C):
  // adds the mean loss to *loss and returns d(loss)/dh, accumulating the head's gradients.
  Tensor head_and_loss(const Tensor& h, const std::vector<std::int32_t>& targets, Gradients& grads,
                       double grad_scale, std::int32_t ignore_index, std::int64_t loss_rows,
                       double* loss) const;

  bool gpt2_;
  std::int64_t pitch_;
  Group transformer_{"GPT2Model"};
  Embedding wte_, wpe_;
  ModuleList<GptBlock> blocks_;
  LayerNorm ln_f_;
  std::unique_ptr<Linear> lm_head_;  // Day-18 only
  Group tied_head_{"Linear"};        // GPT-2: holds the tied weight under lm_head
};

}  // namespace cugpt
