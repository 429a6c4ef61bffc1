// The feed-forward network: up projection, activation, down projection, with the two linear
// layers registered under the names the checkpoint uses ("0"/"2" in the Day-18 model's
// nn.Sequential, "c_fc"/"c_proj" in GPT-2).
#pragma once

#include <string>

#include "kernels/activation.h"
#include "nn/linear.h"

namespace cugpt {

struct MlpSpec {
  std::int64_t n_embd = 0;
  std::int64_t hidden = 0;
  kernels::Activation activation = kernels::Activation::gelu_tanh;
  std::string up_name = "c_fc";
  std::string down_name = "c_proj";
  WeightLayout layout = WeightLayout::out_in;
};

class Mlp : public Module {
 public:
  Mlp(const std::shared_ptr<Arena>& arena, const MlpSpec& spec, DType dtype);
  std::string type_name() const override { return "MLP"; }
  Tensor forward(const Tensor& x) const;
  // x + forward(ln.forward(x)) in two ops, a fused decode step's (models/gpt.cpp): ln folded
  // into the up projection with the activation after it (Linear::forward_normed), the residual
  // add made in the down projection (Linear::forward_plus). Neither ln's output nor the MLP's
  // own is ever formed, so their hooks do not run.
  Tensor forward_normed_plus(const Tensor& x, const LayerNorm& ln) const;

  // What the backward needs: the pre-activation u, and the activation a = act(u) unless it is
  // to be recomputed (activation recompute level 1 and up).
  struct Saved {
    Tensor u, a;
  };
  Tensor forward_train(const Tensor& x, Saved& saved, bool keep_activation) const;
  Tensor backward(const Tensor& dout, const Tensor& x, const Saved& saved, Gradients& grads) const;

 private:
  MlpSpec spec_;
  Linear up_, down_;
};

}  // namespace cugpt
