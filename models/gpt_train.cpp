// The GPT family's training pass: forward with saved activations, fused cross-entropy over the
// logits in chunks of rows, and the backward through every block, with activation recompute
// levels 0-3; and the evaluation loss, chunked the same way.
#include <algorithm>

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

Tensor GptBlock::backward(const Tensor& dout, Saved& s, int recompute, Gradients& grads) const {
  if (recompute >= 3) forward_train(s.x, s, 0);  // replay: everything saved again, briefly
  if (!s.ln2.out.defined()) s.ln2 = ln2_.forward_train(s.h);
  // out = h + mlp(ln2(h)): dh = dout + ln2'(mlp'(dout))
  Tensor d_ln2 = mlp_.backward(dout, s.ln2.out, s.mlp, grads);
  s.mlp = {};
  Tensor dh = ops::add(dout, ln2_.backward(d_ln2, s.h, s.ln2, grads));
  d_ln2 = Tensor();
  s.ln2 = {};
  if (!s.ln1.out.defined()) s.ln1 = ln1_.forward_train(s.x);
  // h = x + attn(ln1(x))
  Tensor d_ln1 = attn_.backward(dh, s.ln1.out, s.attn, grads);
  s.attn = {};
  Tensor dx = ops::add(dh, ln1_.backward(d_ln1, s.x, s.ln1, grads));
  s = {};
  return dx;
}

namespace {
// Rows of logits computed at once: `asked`, or as many as kLossChunkBytes hold (whole multiples
// of 128 rows, at least 128), a row being `pitch` elements (the padded bytes count).
std::int64_t loss_chunk_rows(std::int64_t pitch, DType dtype, std::int64_t asked) {
  if (asked > 0) return asked;
  const auto row_bytes = static_cast<std::uint64_t>(pitch) * dtype_size(dtype);
  return std::max<std::int64_t>(128,
                                static_cast<std::int64_t>(kLossChunkBytes / row_bytes) / 128 * 128);
}

std::int64_t counted_targets(const std::vector<std::int32_t>& targets, std::int32_t ignore_index) {
  std::int64_t counted = 0;
  for (std::int32_t t : targets) counted += t != ignore_index;
  if (counted == 0) throw Error("cross_entropy: every target is ignored");
  return counted;
}

// One target per token, each in the vocabulary or ignore_index: one-line errors.
void check_targets(const Batch& batch, const std::vector<std::int32_t>& targets,
                   std::int32_t ignore_index, std::int64_t vocab_size) {
  if (targets.size() != batch.tokens.size())
    throw Error(std::to_string(targets.size()) + " targets for " +
                std::to_string(batch.tokens.size()) + " tokens");
  for (std::int32_t t : targets)
    if (t != ignore_index && (t < 0 || t >= vocab_size))
      throw Error("target id " + std::to_string(t) + " is outside the vocabulary [0, " +
                  std::to_string(vocab_size) + ")");
}

std::vector<std::int32_t> slice(const std::vector<std::int32_t>& v, std::int64_t begin,
                                std::int64_t count) {
  return {v.begin() + begin, v.begin() + begin + count};
}
}  // namespace

double Gpt::loss(const Batch& batch, const std::vector<std::int32_t>& targets,
                 std::int32_t ignore_index, std::int64_t loss_rows) const {
  check_targets(batch, targets, ignore_index, config().vocab_size);
  const Tensor h = hidden(batch);
  ArenaTag tag(h.arena(), "lm_head");
  const std::int64_t C = h.size(-1), N = h.numel() / C, V = config().vocab_size;
  const std::int64_t pitch = pitch_now();
  const std::int64_t rows = loss_chunk_rows(pitch, h.dtype(), loss_rows);
  if (rows >= N) return ops::cross_entropy_loss(head(h, pitch), targets, ignore_index, 0, V);
  const std::int64_t counted = counted_targets(targets, ignore_index);
  double total = 0;
  for (std::int64_t r0 = 0; r0 < N; r0 += rows) {
    const std::int64_t n = std::min(rows, N - r0);
    total += ops::cross_entropy_loss(head(ops::rows(h, r0, n), pitch), slice(targets, r0, n),
                                     ignore_index, counted, V);
  }
  return total;
}

Tensor Gpt::head_and_loss(const Tensor& h, const std::vector<std::int32_t>& targets,
                          Gradients& grads, double grad_scale, std::int32_t ignore_index,
                          std::int64_t loss_rows, double* loss) const {
  const auto backward = [&](const Tensor& dlogits, const Tensor& x) {
    Tensor* dwte = grads.has(wte_.weight()) ? &grads.of(wte_.weight()) : nullptr;  // frozen
    return gpt2_ ? ops::linear_backward(dlogits, x, wte_.weight(), dwte, nullptr, false)
                 : lm_head_->backward(dlogits, x, grads);
  };
  // With a pitch above V the logits and their in-place gradient are padded rows; the loss and
  // the head's backward read the first V columns of each (no compaction copy).
  const std::int64_t C = h.size(-1), N = h.numel() / C, V = config().vocab_size;
  const std::int64_t pitch = pitch_now();
  const std::int64_t rows = loss_chunk_rows(pitch, h.dtype(), loss_rows);
  if (rows >= N) {
    Tensor logits = head(h, pitch);
    // The gradient overwrites the logits: no second (B, T, V) tensor.
    *loss += ops::cross_entropy_backward_inplace(logits, targets, ignore_index, grad_scale, 0, V);
    return backward(logits, h);
  }
  // In chunks: each chunk's logits become their gradient in place and are consumed before the
  // next chunk's exist. The loss is the batch's mean: every chunk divides by the batch's count.
  const std::int64_t counted = counted_targets(targets, ignore_index);
  Tensor dh = Tensor::empty(h.arena_ptr(), h.shape(), h.dtype(), Category::activation);
  for (std::int64_t r0 = 0; r0 < N; r0 += rows) {
    const std::int64_t n = std::min(rows, N - r0);
    const Tensor x = ops::rows(h, r0, n);
    Tensor logits = head(x, pitch);
    *loss += ops::cross_entropy_backward_inplace(logits, slice(targets, r0, n), ignore_index,
                                                 grad_scale, counted, V);
    const Tensor dx = backward(logits, x);
    logits = Tensor();
    ops::write_rows(dh, r0, dx);
  }
  return dh;
}

double Gpt::forward_backward(const Batch& batch, const std::vector<std::int32_t>& targets,
                             Gradients& grads, int recompute, double grad_scale,
                             std::int32_t ignore_index, std::int64_t loss_rows,
                             const std::function<void(std::size_t)>& after_block) const {
  validate(batch);
  if (recompute < 0 || recompute > 3)
    throw Error("recompute level " + std::to_string(recompute) + " (expected 0 to 3)");
  check_targets(batch, targets, ignore_index, config().vocab_size);
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
    const Tensor d_lnf =
        head_and_loss(lnf.out, targets, grads, grad_scale, ignore_index, loss_rows, &loss);
    dx = ln_f_.backward(d_lnf, x, lnf, grads);
  }
  x = Tensor();
  for (std::size_t i = blocks_.size(); i-- > 0;) {
    ArenaTag tag(arena, "backward block " + std::to_string(i));
    dx = blocks_[i].backward(dx, saved[i], recompute, grads);
    if (after_block) after_block(i);
  }
  // Frozen embeddings (Module::set_trainable) need no backward at all; one table frozen and not
  // the other is not supported yet (grads.of names the tensor without a slot).
  if (!grads.has(wte_.weight()) && !grads.has(wpe_.weight())) return loss;
  ArenaTag tag(arena, "backward embedding");
  ops::embedding_backward(dx, batch.tokens, positions, grads.of(wte_.weight()),
                          grads.of(wpe_.weight()), nullptr);
  return loss;
}

}  // namespace cugpt
