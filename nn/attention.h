// Multi-head self-attention as each checkpoint family names it:
//  - fused:    c_attn (C -> 3C, q|k|v along the output) and c_proj, GPT-2's Conv1D layout;
//  - separate: query, key, value (C -> C each) and an optional output projection under a
//              given name ("proj" for the Day-18 model; RoBERTa keeps its output dense in
//              another module, so it has none here).
// Causal or bidirectional, with an optional key padding mask.
#pragma once

#include <string>
#include <vector>

#include "nn/kv_cache.h"
#include "nn/linear.h"

namespace cugpt {

struct AttentionSpec {
  std::int64_t n_embd = 0;
  std::int64_t n_head = 0;
  bool causal = true;
  bool fused_qkv = false;
  bool qkv_bias = true;
  std::string out_name;  // empty: no output projection
  bool out_bias = true;
  WeightLayout layout = WeightLayout::out_in;
};

class MultiHeadAttention : public Module {
 public:
  MultiHeadAttention(const std::shared_ptr<Arena>& arena, const AttentionSpec& spec, DType dtype);
  std::string type_name() const override { return "MultiHeadAttention"; }
  // x (B, T, C) -> (B, T, C). key_mask: B*T flags (1 attend, 0 padding) or nullptr. probs,
  // when non-null, receives the (B, H, T, T) attention probabilities.
  Tensor forward(const Tensor& x, const std::vector<std::int32_t>* key_mask = nullptr,
                 Tensor* probs = nullptr) const;
  // Causal attention of x (B, Tq, C), the tokens at positions [cache.length(), +Tq), writing
  // their keys and values into the cache's layer `layer` first. With past_device (one i32 on
  // x's device) the position is the one the device holds, cache.length() its host mirror (a
  // decode step with no host in it, models/decode_step.h). With ln (a fused step), x is the
  // residual stream, not yet normalised: the input products apply ln themselves
  // (Linear::forward_normed), the cache writes happen inside the attention op, and the result
  // is x + attention, the residual add made in the output projection (Linear::forward_plus).
  Tensor forward_cached(const Tensor& x, KvCache& cache, std::size_t layer,
                        const Tensor* past_device = nullptr, const LayerNorm* ln = nullptr) const;
  const AttentionSpec& spec() const { return spec_; }

  // Training: the q/k/v projections (one fused buffer or three) and the attention output
  // before the output projection are what the backward needs.
  struct Saved {
    Tensor qkv, q, k, v, y;
  };
  Tensor forward_train(const Tensor& x, Saved& saved,
                       const std::vector<std::int32_t>* key_mask = nullptr) const;
  Tensor backward(const Tensor& dout, const Tensor& x, const Saved& saved, Gradients& grads,
                  const std::vector<std::int32_t>* key_mask = nullptr) const;

 private:
  AttentionSpec spec_;
  std::unique_ptr<Linear> qkv_, q_, k_, v_, out_;
};

}  // namespace cugpt
