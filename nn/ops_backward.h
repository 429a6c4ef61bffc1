// Tensor-level backward ops: the gradients of nn/ops' forward ops. Input gradients are new
// tensors (category activation: they live as long as the backward needs them); parameter
// gradients accumulate into the gradient store's tensors (category gradient). Each needs
// only what the forward saved: inputs, LayerNorm statistics, pre-activations.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/activation.h"
#include "nn/ops.h"

namespace cugpt::ops {

// d(out)/d(x) of linear; dw and db (when non-null) accumulate. Returns dx, or an undefined
// tensor when need_dx is false (the first layer's input needs no gradient). dout's last
// dimension may be a row pitch wider than the weight's OC (the padded logits' gradient): only
// its first OC columns are read.
Tensor linear_backward(const Tensor& dout, const Tensor& x, const Tensor& w, Tensor* dw, Tensor* db,
                       bool w_in_out, bool need_dx = true);

// LayerNorm with the statistics its backward needs: mean and rstd per row (N).
struct NormOut {
  Tensor out, mean, rstd;
};
NormOut layernorm_train(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);
Tensor layernorm_backward(const Tensor& dout, const Tensor& x, const Tensor& weight,
                          const Tensor& mean, const Tensor& rstd, Tensor& dweight, Tensor& dbias);

// dx = dout * act'(x), where x is the activation's input.
Tensor activation_backward(const Tensor& dout, const Tensor& x, kernels::Activation act);

// Gradients of attention with respect to q, k and v, written into the columns the inputs were
// read from: for a fused QKV input all three go into one (B, T, 3C) gradient tensor.
struct AttentionGrads {
  Tensor* dq;
  Tensor* dk;
  Tensor* dv;
};
void attention_backward(const Tensor& dout, const AttentionInputs& in, const AttentionGrads& grads,
                        std::int64_t H, bool causal, const std::vector<std::int32_t>* key_mask);

// Scatter-adds dout (B, T, C) into the tables' gradients (dwtt may be null).
void embedding_backward(const Tensor& dout, const std::vector<std::int32_t>& tokens,
                        const std::vector<std::int32_t>& positions, Tensor& dwte, Tensor& dwpe,
                        Tensor* dwtt);

// Softmax cross-entropy of logits (N, V) against targets, fused: returns the mean loss over
// the rows whose target is not ignore_index, and overwrites logits with d(mean loss)/d(logits)
// times grad_scale, so no separate probability matrix ever exists. With mean_over > 0 the sum
// is divided by mean_over instead: the logits are a chunk of a batch with that many counted
// rows, and the chunks' results add up to the batch's (a chunk may then count no row at all).
// vocab > 0: only the first vocab columns of each row are logits, the rest of the row (up to
// logits' last dimension, its pitch) is padding that is neither read nor written; 0: the whole
// row.
double cross_entropy_backward_inplace(Tensor& logits, const std::vector<std::int32_t>& targets,
                                      std::int32_t ignore_index, double grad_scale,
                                      std::int64_t mean_over = 0, std::int64_t vocab = 0);

// The mean cross-entropy loss only (evaluation): logits are left as they are. mean_over and
// vocab as above.
double cross_entropy_loss(const Tensor& logits, const std::vector<std::int32_t>& targets,
                          std::int32_t ignore_index, std::int64_t mean_over = 0,
                          std::int64_t vocab = 0);

}  // namespace cugpt::ops
