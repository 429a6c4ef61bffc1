// LayerNorm over the last dimension with a learned scale ("weight") and shift ("bias").
#pragma once

#include "nn/gradients.h"
#include "nn/module.h"
#include "nn/ops_backward.h"

namespace cugpt {

class LayerNorm : public Module {
 public:
  LayerNorm(const std::shared_ptr<Arena>& arena, std::int64_t dim, double eps, DType dtype);
  std::string type_name() const override { return "LayerNorm"; }
  Tensor forward(const Tensor& x) const;
  // The forward with the statistics its backward needs.
  ops::NormOut forward_train(const Tensor& x) const;
  Tensor backward(const Tensor& dout, const Tensor& x, const ops::NormOut& saved,
                  Gradients& grads) const;
  double eps() const { return eps_; }
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }

 private:
  double eps_;
  Tensor weight_, bias_;
};

}  // namespace cugpt
