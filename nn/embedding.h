// Embedding: a lookup table [num, dim]. Token, position and token-type tables are summed by one
// fused op (ops::embedding), so the table itself only owns its weight.
#pragma once

#include "nn/module.h"

namespace cugpt {

class Embedding : public Module {
 public:
  Embedding(const std::shared_ptr<Arena>& arena, std::int64_t num, std::int64_t dim, DType dtype);
  std::string type_name() const override { return "Embedding"; }
  const Tensor& weight() const { return weight_; }
  std::int64_t num() const { return weight_.size(0); }

 private:
  Tensor weight_;
};

}  // namespace cugpt
