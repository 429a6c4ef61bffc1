// Linear: y = x W^T + b with W stored [out, in] as PyTorch prints it, or GPT-2's Conv1D with W
// stored [in, out] (y = x W + b). The layout only changes the weight's shape and the product.
#pragma once

#include "kernels/activation.h"
#include "nn/gradients.h"
#include "nn/module.h"

namespace cugpt {

class LayerNorm;

enum class WeightLayout { out_in, in_out };

class Linear : public Module {
 public:
  Linear(const std::shared_ptr<Arena>& arena, std::int64_t in, std::int64_t out, bool bias,
         DType dtype, WeightLayout layout = WeightLayout::out_in);
  std::string type_name() const override {
    return layout_ == WeightLayout::in_out ? "Conv1D" : "Linear";
  }
  Tensor forward(const Tensor& x) const;
  // forward(ln.forward(x)) as one op (ops::ln_linear: the fused decode kernel on cuda), with
  // act, when given, applied in the same op. This Linear's output hooks run without act; ln's
  // never do (its output is never formed).
  Tensor forward_normed(const Tensor& x, const LayerNorm& ln,
                        const kernels::Activation* act = nullptr) const;
  // residual + forward(x), the sum made in the product (ops::linear_add). The output is not
  // this Linear's alone, so its hooks do not run.
  Tensor forward_plus(const Tensor& x, const Tensor& residual) const;
  // Accumulates the weight and bias gradients into the gradient store and returns dx (undefined
  // when need_dx is false). x is the forward's input.
  Tensor backward(const Tensor& dout, const Tensor& x, Gradients& grads, bool need_dx = true) const;

  const Tensor& weight() const { return weight_; }
  const Tensor* bias() const { return bias_.defined() ? &bias_ : nullptr; }
  std::int64_t in_features() const { return in_; }
  std::int64_t out_features() const { return out_; }

 private:
  std::int64_t in_, out_;
  WeightLayout layout_;
  Tensor weight_, bias_;
};

}  // namespace cugpt
