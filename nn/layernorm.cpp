#include "nn/layernorm.h"

#include "nn/ops.h"

namespace cugpt {

LayerNorm::LayerNorm(const std::shared_ptr<Arena>& arena, std::int64_t dim, double eps, DType dtype)
    : eps_(eps) {
  weight_ = register_parameter("weight", Tensor::zeros(arena, {dim}, dtype, Category::parameter));
  bias_ = register_parameter("bias", Tensor::zeros(arena, {dim}, dtype, Category::parameter));
}

Tensor LayerNorm::forward(const Tensor& x) const {
  return hooked(ops::layernorm(x, weight_, bias_, eps_));
}

ops::NormOut LayerNorm::forward_train(const Tensor& x) const {
  return ops::layernorm_train(x, weight_, bias_, eps_);
}

Tensor LayerNorm::backward(const Tensor& dout, const Tensor& x, const ops::NormOut& saved,
                           Gradients& grads) const {
  return ops::layernorm_backward(dout, x, weight_, saved.mean, saved.rstd, grads.of(weight_),
                                 grads.of(bias_));
}

}  // namespace cugpt
