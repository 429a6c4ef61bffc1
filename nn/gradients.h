// The gradient store: one gradient tensor per trainable parameter (the parameter's shape and
// dtype, Category::gradient), found by the parameter's storage. A layer's backward accumulates
// into it; the optimizer's step reads it. Layers see this store, never the optimizer.
#pragma once

#include <cstddef>
#include <unordered_map>
#include <vector>

#include "kernels/error.h"
#include "nn/module.h"

namespace cugpt {

// A zeroed gradient for a parameter: its shape and dtype, in its arena, Category::gradient.
Tensor zero_gradient(const Tensor& param);

// The model's trainable parameters in registry order (tied tensors once): the order of the
// gradient store, the optimizer's states and the data-parallel buckets.
std::vector<Tensor> trainable_parameters(const Module& model);

class Gradients {
 public:
  Gradients() = default;
  // A zeroed gradient per trainable parameter of the model, in registry order.
  explicit Gradients(const Module& model);
  // Gradients already allocated (nn/training_state), grads[i] for params[i].
  Gradients(const std::vector<Tensor>& params, std::vector<Tensor> grads);

  // The gradient of a trainable parameter (the same storage as the registry's tensor).
  Tensor& of(const Tensor& param);
  const Tensor& of(const Tensor& param) const;
  bool has(const Tensor& param) const { return index_.count(param.storage_id()) > 0; }
  void zero();  // nothing to write on meta

  std::size_t size() const { return grads_.size(); }
  bool empty() const { return grads_.empty(); }
  // In the parameters' order.
  const std::vector<Tensor>& tensors() const { return grads_; }
  Tensor& operator[](std::size_t i) { return grads_[i]; }
  const Tensor& operator[](std::size_t i) const { return grads_[i]; }

 private:
  std::vector<Tensor> grads_;
  std::unordered_map<const void*, std::size_t> index_;
};

}  // namespace cugpt
