// Module and its parameter registry. Every tensor a module owns is registered under a name;
// qualified names are dot paths that equal checkpoint keys. Order is PyTorch's: a module's own
// parameters in registration order, then each child's, depth first. A tensor registered twice
// (tied weights) is listed and counted once, under its first name.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "nn/tensor.h"

namespace cugpt {

class Hooks;

struct NamedParameter {
  std::string name;
  Tensor tensor;
  bool trainable = true;
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // A short type name for the module tree ("Linear", "LayerNorm", ...).
  virtual std::string type_name() const { return "Module"; }

  // Names are non-empty and contain no '.'; a name is registered once per module.
  const Tensor& register_parameter(const std::string& name, Tensor tensor, bool trainable = true);
  void register_module(const std::string& name, Module& child);

  // Unique tensors in registry order (tied duplicates dropped).
  std::vector<NamedParameter> named_parameters() const;
  // Every registered name, tied duplicates included, paired with the first name of its tensor
  // (empty when it is the first). Checkpoint readers use this to accept either key.
  std::vector<std::pair<NamedParameter, std::string>> named_parameters_with_ties() const;

  std::int64_t parameter_count() const;
  std::int64_t trainable_count() const;
  // Freezes (trainable false) or unfreezes every parameter whose qualified name `which`
  // accepts; a tied tensor goes by its first name, and every name of it follows. A frozen
  // parameter has no gradient slot and no optimizer state (nn/gradients.h, training_state.h),
  // and Linear's backward skips its dW. Returns how many unique tensors matched.
  std::size_t set_trainable(const std::function<bool(const std::string&)>& which, bool trainable);
  // Arena bytes of the unique tensors, per category: equal to the arena's statistics when this
  // module holds every tensor in its arena.
  CategoryBytes bytes_by_category() const;

  const std::vector<std::pair<std::string, Tensor>>& own_parameters() const { return params_; }
  const std::vector<std::pair<std::string, Module*>>& children() const { return children_; }
  // The child at a dot path ("blocks.3.sa"), or nullptr.
  Module* find_module(const std::string& path);

  // Forward hooks (nn/hooks.h), which capture and may replace outputs: attaches `hooks` to this
  // module and every descendant, each learning its qualified name below this one; nullptr detaches.
  void attach_hooks(Hooks* hooks, const std::string& path = "");
  // The qualified name given by the last attach_hooks ("" for the module it was called on).
  const std::string& path() const { return path_; }
  bool hooks_attached() const { return hooks_ != nullptr; }

 protected:
  Hooks* hooks() const { return hooks_; }
  // Forward implementations return their output through this: the attached hooks may replace
  // it (Hooks::write) and record it. Without hooks it costs one null check (out is moved).
  Tensor hooked(Tensor out) const;
  // The same at "<path>.<suffix>" (or "<suffix>" at the root): values a forward computes
  // without a module of their own (the embeddings' sum, the attention heads' outputs).
  Tensor hook_as(const char* suffix, Tensor t) const;

 private:
  void check_name(const std::string& name) const;
  struct Entry {
    std::string name;
    Tensor tensor;
    bool trainable;
  };
  void collect(const std::string& prefix, std::vector<Entry>& out) const;
  void set_trainable_of(const std::vector<const void*>& storages, bool trainable);

  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<bool> trainable_;
  std::vector<std::pair<std::string, Module*>> children_;
  Hooks* hooks_ = nullptr;
  std::string path_;
};

}  // namespace cugpt
