#include "nn/mlp.h"

#include "nn/ops.h"
#include "nn/ops_backward.h"

namespace cugpt {

Mlp::Mlp(const std::shared_ptr<Arena>& arena, const MlpSpec& spec, DType dtype)
    : spec_(spec),
      up_(arena, spec.n_embd, spec.hidden, true, dtype, spec.layout),
      down_(arena, spec.hidden, spec.n_embd, true, dtype, spec.layout) {
  register_module(spec.up_name, up_);
  register_module(spec.down_name, down_);
}

Tensor Mlp::forward(const Tensor& x) const {
  const Tensor h = ops::linear_act(x, up_.weight(), up_.bias(),
                                   spec_.layout == WeightLayout::in_out, spec_.activation);
  return hooked(down_.forward(h));
}

Tensor Mlp::forward_normed_plus(const Tensor& x, const LayerNorm& ln) const {
  return down_.forward_plus(up_.forward_normed(x, ln, &spec_.activation), x);
}

Tensor Mlp::forward_train(const Tensor& x, Saved& saved, bool keep_activation) const {
  saved.u = up_.forward(x);
  Tensor a = ops::activation(saved.u, spec_.activation);
  Tensor y = down_.forward(a);
  if (keep_activation) saved.a = a;
  return y;
}

Tensor Mlp::backward(const Tensor& dout, const Tensor& x, const Saved& saved,
                     Gradients& grads) const {
  const Tensor a = saved.a.defined() ? saved.a : ops::activation(saved.u, spec_.activation);
  const Tensor da = down_.backward(dout, a, grads);
  const Tensor du = ops::activation_backward(da, saved.u, spec_.activation);
  return up_.backward(du, x, grads);
}

}  // namespace cugpt
