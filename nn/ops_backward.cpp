#include "nn/ops_backward.h"

#include <string>

#include "kernels/attention.h"
#include "kernels/embedding.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "nn/backend.h"
#include "nn/backend_util.h"

namespace cugpt::ops {

using namespace detail;

namespace {
// Statistics and losses: f32, or f64 beside f64 references (as layernorm_train keeps them).
DType stat_dtype(const Tensor& x) {
  return x.dtype() == DType::f64 ? DType::f64 : DType::f32;
}
}  // namespace

// Each op allocates its outputs and workspaces on every device before it asks for the backend,
// so a meta run (no backend) predicts the others byte for byte.

Tensor linear_backward(const Tensor& dout, const Tensor& x, const Tensor& w, Tensor* dw, Tensor* db,
                       bool w_in_out, bool need_dx) {
  if (w.ndim() != 2) throw Error("linear_backward: weight " + w.shape().str() + " is not a matrix");
  const std::int64_t IC = x.size(-1), OC = w.size(w_in_out ? 1 : 0);
  if (w.size(w_in_out ? 0 : 1) != IC || dout.size(-1) < OC ||
      dout.numel() / dout.size(-1) != x.numel() / IC)
    throw Error("linear_backward: gradient " + dout.shape().str() + " and input " +
                x.shape().str() + " do not match weight " + w.shape().str());
  Tensor dx = need_dx ? like(x, x.shape()) : Tensor();
  // The GEMMs' workspace, reserved on every device as the forward does.
  Tensor ws =
      workspace(x, static_cast<std::int64_t>(kernels::kMatmulWorkspaceBytes / 4), DType::f32);
  if (const Backend* b = backend_for("linear_backward", x))
    b->linear_backward(need_dx ? &dx : nullptr, dw, db, dout, x, w, w_in_out, ws);
  return dx;
}

NormOut layernorm_train(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  const std::int64_t C = x.size(-1), N = x.numel() / C;
  // Statistics in f32 (f64 for f64 references), as the CUDA kernel keeps them.
  const DType stat = stat_dtype(x);
  NormOut r{like(x, x.shape()), like(x, {N}, stat), like(x, {N}, stat)};
  if (const Backend* b = backend_for("layernorm", x))
    b->layernorm(r.out, &r.mean, &r.rstd, x, weight, bias, eps);
  return r;
}

Tensor layernorm_backward(const Tensor& dout, const Tensor& x, const Tensor& weight,
                          const Tensor& mean, const Tensor& rstd, Tensor& dweight, Tensor& dbias) {
  const std::int64_t C = x.size(-1);
  const int N = as_int(x.numel() / C, "rows");
  Tensor dx = like(x, x.shape());
  // The CUDA kernel's per-chunk partial sums of the parameter gradients (no atomics).
  Tensor ws = workspace(
      x, static_cast<std::int64_t>(kernels::layernorm_backward_workspace_floats(N, as_int(C, "C"))),
      DType::f32);
  if (const Backend* b = backend_for("layernorm_backward", x))
    b->layernorm_backward(dx, dweight, dbias, dout, x, weight, mean, rstd, ws);
  return dx;
}

Tensor activation_backward(const Tensor& dout, const Tensor& x, kernels::Activation act) {
  Tensor dx = like(x, x.shape());
  if (const Backend* b = backend_for("activation_backward", x))
    b->activation_backward(dx, dout, x, act);
  return dx;
}

void attention_backward(const Tensor& dout, const AttentionInputs& inputs, const AttentionGrads& g,
                        std::int64_t H, bool causal, const std::vector<std::int32_t>* key_mask) {
  const int B = as_int(dout.size(0), "B"), T = as_int(dout.size(1), "T");
  // Per query row, the CUDA kernel's softmax statistics (log-sum-exp and dout . out), and the
  // padding mask as device ids: allocated on every device.
  Tensor ws = workspace(
      dout,
      static_cast<std::int64_t>(kernels::attention_backward_workspace_floats(B, as_int(H, "H"), T)),
      DType::f32);
  const Tensor mask = key_mask ? ids_on(dout, *key_mask) : Tensor();
  if (const Backend* b = backend_for("attention_backward", dout))
    b->attention_backward(dout, inputs, g, H, causal, key_mask ? &mask : nullptr, ws);
}

void embedding_backward(const Tensor& dout, const std::vector<std::int32_t>& tokens,
                        const std::vector<std::int32_t>& positions, Tensor& dwte, Tensor& dwpe,
                        Tensor* dwtt) {
  const int N = as_int(dout.size(0), "B") * as_int(dout.size(1), "T");
  // The CUDA scatter-add's row groups, one grouping per table: a fixed size on every device
  // (what the ids hold changes the contents, never the bytes).
  const std::size_t per_table = kernels::embedding_groups_ints(N);
  const std::size_t tables = dwtt ? 3 : 2;
  Tensor groups = like(dout, {static_cast<std::int64_t>(tables * per_table)}, DType::i32);
  if (const Backend* b = backend_for("embedding_backward", dout))
    b->embedding_backward(dout, tokens, positions, dwte, dwpe, dwtt, groups);
}

namespace {

// The mean loss over the rows whose target is not ignore_index; with `grad` (the logits
// themselves, in place), d(mean loss)/d(logits) times grad_scale is written into it. The
// per-row losses and the targets on the device are the only extra memory: N values each,
// not N x V.
double cross_entropy(const Tensor& logits, Tensor* grad, const std::vector<std::int32_t>& targets,
                     std::int32_t ignore_index, double grad_scale, std::int64_t mean_over,
                     std::int64_t vocab) {
  const std::int64_t pitch = logits.size(-1), N = logits.numel() / pitch;
  if (vocab < 0 || vocab > pitch)
    throw Error("cross_entropy: a vocabulary of " + std::to_string(vocab) + " in rows of " +
                std::to_string(pitch));
  const std::int64_t V = vocab > 0 ? vocab : pitch;
  if (static_cast<std::int64_t>(targets.size()) != N)
    throw Error("cross_entropy: " + std::to_string(targets.size()) + " targets for " +
                std::to_string(N) + " rows");
  std::int64_t counted = 0;
  for (std::int32_t t : targets) counted += t != ignore_index;
  if (mean_over > 0 && mean_over < counted)
    throw Error("cross_entropy: a mean over " + std::to_string(mean_over) + " rows of " +
                std::to_string(counted) + " counted here");
  if (mean_over == 0) mean_over = counted;
  if (mean_over == 0) throw Error("cross_entropy: every target is ignored");
  Tensor losses = like(logits, {N}, stat_dtype(logits));
  const Tensor device_targets = ids_on(logits, targets);
  const double scale = grad_scale / static_cast<double>(mean_over);
  const Backend* b = backend_for("cross_entropy", logits);
  if (!b) return 0.0;
  const double total = b->cross_entropy(losses, grad, logits, V, targets, device_targets,
                                        ignore_index, grad ? scale : 1.0);
  return total / static_cast<double>(mean_over);
}

}  // namespace

double cross_entropy_backward_inplace(Tensor& logits, const std::vector<std::int32_t>& targets,
                                      std::int32_t ignore_index, double grad_scale,
                                      std::int64_t mean_over, std::int64_t vocab) {
  return cross_entropy(logits, &logits, targets, ignore_index, grad_scale, mean_over, vocab);
}

double cross_entropy_loss(const Tensor& logits, const std::vector<std::int32_t>& targets,
                          std::int32_t ignore_index, std::int64_t mean_over, std::int64_t vocab) {
  return cross_entropy(logits, nullptr, targets, ignore_index, 1.0, mean_over, vocab);
}

}  // namespace cugpt::ops
