#include "nn/module.h"

#include <unordered_map>

#include "nn/hooks.h"

namespace cugpt {

void Module::check_name(const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos)
    throw Error("invalid registry name '" + name + "' in " + type_name() + " (non-empty, no '.')");
  for (const auto& p : params_)
    if (p.first == name) throw Error("'" + name + "' is already registered in " + type_name());
  for (const auto& c : children_)
    if (c.first == name) throw Error("'" + name + "' is already registered in " + type_name());
}

const Tensor& Module::register_parameter(const std::string& name, Tensor tensor, bool trainable) {
  check_name(name);
  if (!tensor.defined()) throw Error("register_parameter '" + name + "': undefined tensor");
  params_.emplace_back(name, std::move(tensor));
  trainable_.push_back(trainable);
  return params_.back().second;
}

void Module::register_module(const std::string& name, Module& child) {
  check_name(name);
  if (&child == this) throw Error("register_module '" + name + "': a module cannot hold itself");
  children_.emplace_back(name, &child);
}

void Module::collect(const std::string& prefix, std::vector<Entry>& out) const {
  for (std::size_t i = 0; i < params_.size(); ++i)
    out.push_back(Entry{prefix + params_[i].first, params_[i].second, trainable_[i]});
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<std::pair<NamedParameter, std::string>> Module::named_parameters_with_ties() const {
  std::vector<Entry> all;
  collect("", all);
  std::unordered_map<const void*, std::string> first;
  std::vector<std::pair<NamedParameter, std::string>> out;
  out.reserve(all.size());
  for (auto& e : all) {
    auto [it, inserted] = first.emplace(e.tensor.storage_id(), e.name);
    out.emplace_back(NamedParameter{e.name, e.tensor, e.trainable},
                     inserted ? std::string() : it->second);
  }
  return out;
}

std::vector<NamedParameter> Module::named_parameters() const {
  std::vector<NamedParameter> out;
  for (auto& [p, tied_to] : named_parameters_with_ties())
    if (tied_to.empty()) out.push_back(std::move(p));
  return out;
}

std::int64_t Module::parameter_count() const {
  std::int64_t n = 0;
  for (const auto& p : named_parameters()) n += p.tensor.numel();
  return n;
}

std::int64_t Module::trainable_count() const {
  std::int64_t n = 0;
  for (const auto& p : named_parameters())
    if (p.trainable) n += p.tensor.numel();
  return n;
}

std::size_t Module::set_trainable(const std::function<bool(const std::string&)>& which,
                                  bool trainable) {
  std::vector<const void*> storages;
  for (const auto& p : named_parameters())
    if (which(p.name)) storages.push_back(p.tensor.storage_id());
  set_trainable_of(storages, trainable);
  return storages.size();
}

void Module::set_trainable_of(const std::vector<const void*>& storages, bool trainable) {
  for (std::size_t i = 0; i < params_.size(); ++i)
    for (const void* s : storages)
      if (params_[i].second.storage_id() == s) trainable_[i] = trainable;
  for (auto& c : children_) c.second->set_trainable_of(storages, trainable);
}

CategoryBytes Module::bytes_by_category() const {
  CategoryBytes b{};
  for (const auto& p : named_parameters())
    b[static_cast<int>(p.tensor.category())] += p.tensor.allocated_bytes();
  return b;
}

Module* Module::find_module(const std::string& path) {
  if (path.empty()) return this;
  const std::size_t dot = path.find('.');
  const std::string head = path.substr(0, dot);
  for (auto& [name, child] : children_) {
    if (name == head)
      return dot == std::string::npos ? child : child->find_module(path.substr(dot + 1));
  }
  return nullptr;
}

void Module::attach_hooks(Hooks* hooks, const std::string& path) {
  hooks_ = hooks;
  path_ = path;
  for (auto& [name, child] : children_)
    child->attach_hooks(hooks, path.empty() ? name : path + "." + name);
}

Tensor Module::hooked(Tensor out) const {
  if (!hooks_) return out;
  return hooks_->apply(path_, std::move(out));
}

Tensor Module::hook_as(const char* suffix, Tensor t) const {
  if (!hooks_) return t;
  return hooks_->apply(path_.empty() ? std::string(suffix) : path_ + "." + suffix, std::move(t));
}

}  // namespace cugpt
