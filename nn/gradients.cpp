#include "nn/gradients.h"

#include <string>
#include <utility>

namespace cugpt {

std::vector<Tensor> trainable_parameters(const Module& model) {
  std::vector<Tensor> out;
  for (const auto& p : model.named_parameters())
    if (p.trainable) out.push_back(p.tensor);
  return out;
}

Tensor zero_gradient(const Tensor& param) {
  return Tensor::zeros(param.arena_ptr(), param.shape(), param.dtype(), Category::gradient);
}

Gradients::Gradients(const Module& model) {
  const std::vector<Tensor> params = trainable_parameters(model);
  std::vector<Tensor> grads;
  for (const Tensor& w : params) grads.push_back(zero_gradient(w));
  *this = Gradients(params, std::move(grads));
}

Gradients::Gradients(const std::vector<Tensor>& params, std::vector<Tensor> grads)
    : grads_(std::move(grads)) {
  if (params.size() != grads_.size())
    throw Error("gradients: " + std::to_string(grads_.size()) + " gradients for " +
                std::to_string(params.size()) + " parameters");
  for (std::size_t i = 0; i < params.size(); ++i) index_.emplace(params[i].storage_id(), i);
}

Tensor& Gradients::of(const Tensor& param) {
  auto it = index_.find(param.storage_id());
  if (it == index_.end()) throw Error("gradients: tensor is not a trainable parameter");
  return grads_[it->second];
}

const Tensor& Gradients::of(const Tensor& param) const {
  return const_cast<Gradients*>(this)->of(param);
}

void Gradients::zero() {
  for (auto& g : grads_)
    if (!g.device().is_meta()) g.zero();
}

}  // namespace cugpt
