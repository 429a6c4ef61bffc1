#include "nn/layernorm.h"

#include "nn/ops.h"

namespace cugpt {

LayerNorm::LayerNorm(const std::shared_ptr<Arena>& arena, std::int64_t dim, double eps, DType dtype)
    : eps_(eps) {
  weight_ = register_parameter("weight", Tensor::zeros(arena, {dim}, dtype, Category::parameter));
  bias_ = register_parameter("bias", Tensor::zeros(arena, {dim}, dtype, Category::parameter));
}

Tensor LayerNorm::forward(const Tensor& x) const {
  return ops::layernorm(x, weight_, bias_, eps_);
}

}  // namespace cugpt
