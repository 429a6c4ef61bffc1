// The model interface shared by the three families and the input batch (the factory that picks
// a family is models/factory.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/config.h"
#include "nn/module.h"

namespace cugpt {

struct Batch {
  std::int64_t B = 0, T = 0;
  std::vector<std::int32_t> tokens;          // (B, T) row-major
  std::vector<std::int32_t> attention_mask;  // (B, T) 1 = token, 0 = padding; empty = all 1
};

// A row of the parameter summary: a labelled part of the model, the analytic count the
// Day-18 document's method gives for it (weight matrices and tables only), and the registry
// names that belong to it (by prefix).
struct ParamSection {
  std::string label;
  std::int64_t analytic = 0;
  std::vector<std::string> prefixes;
  std::string note;  // e.g. "tied to transformer.wte"
};

class Model : public Module {
 public:
  Model(ModelConfig config, DType dtype) : config_(std::move(config)), dtype_(dtype) {}
  const ModelConfig& config() const { return config_; }
  DType dtype() const { return dtype_; }

  // Logits (B, T, vocab) in the model's dtype, on the model's device. Validates the batch. A
  // Gpt with a logits pitch above vocab returns (B, T, pitch) rows (models/gpt.h).
  virtual Tensor forward(const Batch& batch) const = 0;
  virtual std::vector<ParamSection> sections() const = 0;
  // Registry-name prefixes a checkpoint may omit (GPT-2 files saved without "transformer.").
  virtual std::vector<std::string> optional_prefixes() const { return {}; }
  // The longest sequence the position table allows.
  std::int64_t max_sequence() const { return config_.max_sequence(); }

 protected:
  // Shape, id range, mask and length checks shared by every family; one-line errors.
  void validate(const Batch& batch) const;

 private:
  ModelConfig config_;
  DType dtype_;
};

}  // namespace cugpt
