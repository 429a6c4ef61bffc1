#include "nn/linear.h"

#include "nn/layernorm.h"
#include "nn/ops.h"
#include "nn/ops_backward.h"

namespace cugpt {

Linear::Linear(const std::shared_ptr<Arena>& arena, std::int64_t in, std::int64_t out, bool bias,
               DType dtype, WeightLayout layout)
    : in_(in), out_(out), layout_(layout) {
  const Shape shape = layout == WeightLayout::out_in ? Shape{out, in} : Shape{in, out};
  weight_ = register_parameter("weight", Tensor::zeros(arena, shape, dtype, Category::parameter));
  if (bias)
    bias_ = register_parameter("bias", Tensor::zeros(arena, {out}, dtype, Category::parameter));
}

Tensor Linear::forward(const Tensor& x) const {
  return hooked(ops::linear(x, weight_, bias(), layout_ == WeightLayout::in_out));
}

Tensor Linear::forward_normed(const Tensor& x, const LayerNorm& ln,
                              const kernels::Activation* act) const {
  Tensor y = ops::ln_linear(x, ln.weight(), ln.bias(), ln.eps(), weight_, bias(),
                            layout_ == WeightLayout::in_out, act);
  return act ? y : hooked(std::move(y));
}

Tensor Linear::forward_plus(const Tensor& x, const Tensor& residual) const {
  return ops::linear_add(x, weight_, bias(), layout_ == WeightLayout::in_out, residual);
}

Tensor Linear::backward(const Tensor& dout, const Tensor& x, Gradients& grads, bool need_dx) const {
  // A frozen weight or bias (Module::set_trainable) has no gradient slot: its product is skipped.
  Tensor* dw = grads.has(weight_) ? &grads.of(weight_) : nullptr;
  Tensor* db = bias_.defined() && grads.has(bias_) ? &grads.of(bias_) : nullptr;
  return ops::linear_backward(dout, x, weight_, dw, db, layout_ == WeightLayout::in_out, need_dx);
}

}  // namespace cugpt
