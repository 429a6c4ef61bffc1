// The GPT family's training pass: forward with saved activations, fused cross-entropy, and
// the backward through every block, with activation recompute levels 0-3.
#include "models/gpt.h"
#include "nn/ops.h"

namespace cugpt {

Tensor GptBlock::forward_train(const Tensor& x, Saved& s, int recompute) const {
  s.x = x;
  s.ln1 = ln1_.forward_train(x);
  const Tensor attn = attn_.forward_train(s.ln1.out, s.attn);
  s.h = ops::add(x, attn);
  s.ln2 = ln2_.forward_train(s.h);
  const Tensor mlp = mlp_.forward_train(s.ln2.out, s.mlp, recompute < 1);
  Tensor out = ops::add(s.h, mlp);
  if (recompute >= 2) {  // LayerNorm outputs are cheap to rebuild from x, h and the statistics
    s.ln1.out = Tensor();
    s.ln2.out = Tensor();
  }
  if (recompute >= 3) {
    // Only the input survives, until this block's backward; this block's output is the next
    // block's input (or the final LayerNorm's). Left where it was allocated, among this block's
    // temporaries, the outputs would split the free space the logits need in one piece; a copy
    // at the low end, beside the weights, leaves the top to the churn (one B x T x C copy).
    s = Saved{x, {}, {}, {}, {}, {}};
    Tensor kept = Tensor::empty(out.arena_ptr(), out.shape(), out.dtype(), Category::activation,
                                Placement::low);
    kept.copy_from(out);
    return kept;
  }
  return out;
}

Tensor GptBlock::backward(const Tensor& dout, Saved& s, int recompute, Optimizer& opt) const {
  if (recompute >= 3) forward_train(s.x, s, 0);  // replay: everything saved again, briefly
  if (!s.ln2.out.defined()) s.ln2 = ln2_.forward_train(s.h);
  // out = h + mlp(ln2(h)): dh = dout + ln2'(mlp'(dout))
  Tensor d_ln2 = mlp_.backward(dout, s.ln2.out, s.mlp, opt);
  s.mlp = {};
  Tensor dh = ops::add(dout, ln2_.backward(d_ln2, s.h, s.ln2, opt));
  d_ln2 = Tensor();
  s.ln2 = {};
  if (!s.ln1.out.defined()) s.ln1 = ln1_.forward_train(s.x);
  // h = x + attn(ln1(x))
  Tensor d_ln1 = attn_.backward(dh, s.ln1.out, s.attn, opt);
  s.attn = {};
  Tensor dx = ops::add(dh, ln1_.backward(d_ln1, s.x, s.ln1, opt));
  s = {};
  return dx;
}

double Gpt::forward_backward(const Batch& batch, const std::vector<std::int32_t>& targets,
                             Optimizer& opt, int recompute, double grad_scale,
                             std::int32_t ignore_index) const {
  validate(batch);
  if (recompute < 0 || recompute > 3)
    throw Error("recompute level " + std::to_string(recompute) + " (expected 0 to 3)");
  if (targets.size() != batch.tokens.size())
    throw Error(std::to_string(targets.size()) + " targets for " +
                std::to_string(batch.tokens.size()) + " tokens");
  for (std::int32_t t : targets)
    if (t != ignore_index && (t < 0 || t >= config().vocab_size))
      throw Error("target id " + std::to_string(t) + " is outside the vocabulary [0, " +
                  std::to_string(config().vocab_size) + ")");
  Arena& arena = wte_.weight().arena();
  std::vector<std::int32_t> positions(batch.tokens.size());
  for (std::size_t i = 0; i < positions.size(); ++i)
    positions[i] = static_cast<std::int32_t>(i % static_cast<std::size_t>(batch.T));

  std::vector<GptBlock::Saved> saved(blocks_.size());
  Tensor x;
  {
    ArenaTag tag(arena, "forward embedding");
    x = ops::embedding(batch.tokens, positions, batch.B, batch.T, wte_.weight(), wpe_.weight(),
                       nullptr);
  }
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    ArenaTag tag(arena, "forward block " + std::to_string(i));
    x = blocks_[i].forward_train(x, saved[i], recompute);
  }
  double loss = 0;
  Tensor dx;
  {
    ArenaTag tag(arena, "lm_head and loss");
    const ops::NormOut lnf = ln_f_.forward_train(x);
    Tensor logits =
        gpt2_ ? ops::linear(lnf.out, wte_.weight(), nullptr, false) : lm_head_->forward(lnf.out);
    // The gradient overwrites the logits: no second (B, T, V) tensor.
    loss = ops::cross_entropy_backward_inplace(logits, targets, ignore_index, grad_scale);
    const Tensor d_lnf = gpt2_ ? ops::linear_backward(logits, lnf.out, wte_.weight(),
                                                      &opt.grad(wte_.weight()), nullptr, false)
                               : lm_head_->backward(logits, lnf.out, opt);
    logits = Tensor();
    dx = ln_f_.backward(d_lnf, x, lnf, opt);
  }
  x = Tensor();
  for (std::size_t i = blocks_.size(); i-- > 0;) {
    ArenaTag tag(arena, "backward block " + std::to_string(i));
    dx = blocks_[i].backward(dx, saved[i], recompute, opt);
  }
  ArenaTag tag(arena, "backward embedding");
  ops::embedding_backward(dx, batch.tokens, positions, opt.grad(wte_.weight()),
                          opt.grad(wpe_.weight()), nullptr);
  return loss;
}

}  // namespace cugpt
