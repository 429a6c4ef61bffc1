// A module that only groups children under a name (PyTorch's nn.Module holders and
// nn.ModuleList): "transformer", "blocks", "attention.output", ...
#pragma once

#include <memory>
#include <vector>

#include "nn/module.h"

namespace cugpt {

template <typename M>
class ModuleList : public Module {
 public:
  std::string type_name() const override { return "ModuleList"; }
  M& add(std::unique_ptr<M> m) {
    items_.push_back(std::move(m));
    register_module(std::to_string(items_.size() - 1), *items_.back());
    return *items_.back();
  }
  std::size_t size() const { return items_.size(); }
  const M& operator[](std::size_t i) const { return *items_[i]; }

 private:
  std::vector<std::unique_ptr<M>> items_;
};

class Group : public Module {
 public:
  explicit Group(std::string type = "Module") : type_(std::move(type)) {}
  std::string type_name() const override { return type_; }

 private:
  std::string type_;
};

}  // namespace cugpt
