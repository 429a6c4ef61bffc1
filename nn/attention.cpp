#include "nn/attention.h"

#include "kernels/ln_gemv.h"
#include "nn/hooks.h"
#include "nn/layernorm.h"
#include "nn/ops.h"
#include "nn/ops_backward.h"

namespace cugpt {

MultiHeadAttention::MultiHeadAttention(const std::shared_ptr<Arena>& arena,
                                       const AttentionSpec& spec, DType dtype)
    : spec_(spec) {
  const std::int64_t C = spec.n_embd;
  if (spec.n_head <= 0 || C % spec.n_head != 0)
    throw Error("attention: n_embd " + std::to_string(C) + " is not divisible by n_head " +
                std::to_string(spec.n_head));
  if (spec.fused_qkv) {
    qkv_ = std::make_unique<Linear>(arena, C, 3 * C, spec.qkv_bias, dtype, spec.layout);
    register_module("c_attn", *qkv_);
  } else {
    q_ = std::make_unique<Linear>(arena, C, C, spec.qkv_bias, dtype, spec.layout);
    k_ = std::make_unique<Linear>(arena, C, C, spec.qkv_bias, dtype, spec.layout);
    v_ = std::make_unique<Linear>(arena, C, C, spec.qkv_bias, dtype, spec.layout);
    register_module("query", *q_);
    register_module("key", *k_);
    register_module("value", *v_);
  }
  if (!spec.out_name.empty()) {
    out_ = std::make_unique<Linear>(arena, C, C, spec.out_bias, dtype, spec.layout);
    register_module(spec.out_name, *out_);
  }
}

Tensor MultiHeadAttention::forward(const Tensor& x, const std::vector<std::int32_t>* key_mask,
                                   Tensor* probs) const {
  const std::int64_t C = spec_.n_embd;
  const bool capture = hooks() && hooks()->wants_attention(path()) && !x.device().is_meta();
  // On the cpu the forward's own kernel writes the probabilities; on cuda they are recomputed.
  Tensor captured;
  Tensor* wanted = probs ? probs : (capture && x.device().is_cpu() ? &captured : nullptr);
  auto attend = [&](const ops::AttentionInputs& in) {
    Tensor y = ops::attention(in, C, spec_.n_head, spec_.causal, key_mask, wanted);
    if (!capture) return y;
    const std::string name = path() + ".probs";
    if (wanted) {
      hooks()->record(name, *wanted, "written by the forward's attention kernel");
    } else {
      const Shape& s = in.q->shape();
      hooks()->record(
          Capture{name,
                  {s[0], spec_.n_head, s[1], s[1]},
                  ops::attention_probs_host(in, C, spec_.n_head, spec_.causal, key_mask),
                  "recomputed on the host in f32 from this layer's q and k: the fused "
                  "CUDA kernel keeps no probabilities"});
    }
    return y;
  };
  Tensor y;
  if (qkv_) {
    const Tensor qkv = qkv_->forward(x);  // (B, T, 3C): q | k | v
    y = attend({&qkv, 0, &qkv, C, &qkv, 2 * C});
  } else {
    const Tensor q = q_->forward(x), k = k_->forward(x), v = v_->forward(x);
    y = attend({&q, 0, &k, 0, &v, 0});
  }
  // (B, T, C): head h's output in columns [h D, (h + 1) D), before the output projection mixes
  // the heads: where a head is ablated or patched.
  y = hook_as("heads", std::move(y));
  return hooked(out_ ? out_->forward(y) : y);
}

Tensor MultiHeadAttention::forward_cached(const Tensor& x, KvCache& cache, std::size_t layer,
                                          const Tensor* past_device, const LayerNorm* ln) const {
  if (!spec_.causal) throw Error("a KV cache needs causal attention");
  const std::int64_t C = spec_.n_embd, past = cache.length();
  Tensor k_cache = cache.k(layer), v_cache = cache.v(layer);
  const auto write = [&](Tensor& dst, const Tensor& src, std::int64_t col) {
    if (past_device)
      ops::write_cache_at(dst, *past_device, src, col);
    else
      ops::write_cache(dst, past, src, col);
  };
  Tensor y;
  if (ln) {  // the fused step: the cache writes inside the attention op too
    if (!past_device) throw Error("a fused decode step holds its length on the device");
    const std::int64_t H = spec_.n_head;
    if (qkv_) {
      const Tensor qkv = qkv_->forward_normed(x, *ln);
      y = ops::attention_decode_writing(k_cache, v_cache, {&qkv, C, &qkv, 2 * C}, qkv, 0, past,
                                        *past_device, H);
    } else if (x.numel() / C <= kernels::kLnGemvOnePassRows &&
               spec_.layout == WeightLayout::out_in) {
      // q, k and v as one product: one kernel, one LayerNorm
      ops::LinearParts p;
      p.count = 3;
      const Linear* l[3] = {q_.get(), k_.get(), v_.get()};
      for (int i = 0; i < 3; ++i) p.w[i] = &l[i]->weight(), p.bias[i] = l[i]->bias();
      const Tensor qkv = ops::ln_linear_parts(x, ln->weight(), ln->bias(), ln->eps(), p);
      y = ops::attention_decode_writing(k_cache, v_cache, {&qkv, C, &qkv, 2 * C}, qkv, 0, past,
                                        *past_device, H);
    } else {  // more rows than the fused kernel takes: the LayerNorm once, three products
      const Tensor n = ln->forward(x);
      const Tensor q = q_->forward(n), k = k_->forward(n), v = v_->forward(n);
      y = ops::attention_decode_writing(k_cache, v_cache, {&k, 0, &v, 0}, q, 0, past, *past_device,
                                        H);
    }
    return out_ ? out_->forward_plus(y, x) : ops::add(x, y);
  }
  if (qkv_) {
    const Tensor qkv = qkv_->forward(x);  // (B, Tq, 3C): q | k | v, read in place
    write(k_cache, qkv, C);
    write(v_cache, qkv, 2 * C);
    y = ops::attention_decode(qkv, 0, k_cache, v_cache, past, spec_.n_head, past_device);
  } else {
    const Tensor q = q_->forward(x);
    write(k_cache, k_->forward(x), 0);
    write(v_cache, v_->forward(x), 0);
    y = ops::attention_decode(q, 0, k_cache, v_cache, past, spec_.n_head, past_device);
  }
  return out_ ? out_->forward(y) : y;
}

Tensor MultiHeadAttention::forward_train(const Tensor& x, Saved& s,
                                         const std::vector<std::int32_t>* key_mask) const {
  const std::int64_t C = spec_.n_embd;
  if (qkv_) {
    s.qkv = qkv_->forward(x);
    s.y = ops::attention({&s.qkv, 0, &s.qkv, C, &s.qkv, 2 * C}, C, spec_.n_head, spec_.causal,
                         key_mask);
  } else {
    s.q = q_->forward(x);
    s.k = k_->forward(x);
    s.v = v_->forward(x);
    s.y = ops::attention({&s.q, 0, &s.k, 0, &s.v, 0}, C, spec_.n_head, spec_.causal, key_mask);
  }
  return out_ ? out_->forward(s.y) : s.y;
}

Tensor MultiHeadAttention::backward(const Tensor& dout, const Tensor& x, const Saved& s,
                                    Gradients& grads,
                                    const std::vector<std::int32_t>* key_mask) const {
  const std::int64_t C = spec_.n_embd;
  const Tensor dy = out_ ? out_->backward(dout, s.y, grads) : dout;
  if (qkv_) {
    Tensor dqkv =
        Tensor::empty(s.qkv.arena_ptr(), s.qkv.shape(), s.qkv.dtype(), Category::activation);
    ops::attention_backward(dy, {&s.qkv, 0, &s.qkv, C, &s.qkv, 2 * C}, {&dqkv, &dqkv, &dqkv},
                            spec_.n_head, spec_.causal, key_mask);
    return qkv_->backward(dqkv, x, grads);
  }
  const auto make = [&](const Tensor& t) {
    return Tensor::empty(t.arena_ptr(), t.shape(), t.dtype(), Category::activation);
  };
  Tensor dq = make(s.q), dk = make(s.k), dv = make(s.v);
  ops::attention_backward(dy, {&s.q, 0, &s.k, 0, &s.v, 0}, {&dq, &dk, &dv}, spec_.n_head,
                          spec_.causal, key_mask);
  const Tensor dxq = q_->backward(dq, x, grads);
  dq = Tensor();
  const Tensor dxk = k_->backward(dk, x, grads);
  dk = Tensor();
  const Tensor dxqk = ops::add(dxq, dxk);
  return ops::add(dxqk, v_->backward(dv, x, grads));
}

}  // namespace cugpt
