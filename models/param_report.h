// The parameter summary of a model: the Day-18 document's table (analytic formula beside the
// registry's exact count, and the difference broken down), the KantaiBERT document's listing
// (every tensor with its running total), and the bytes of the parameters and of AdamW
// training in each dtype, read from a meta-device arena.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/dtype.h"
#include "models/config.h"
#include "nn/arena.h"

namespace cugpt {

struct ParamReport {
  struct Row {
    std::string label;
    std::int64_t analytic = 0;
    std::int64_t exact = 0;
    std::string note;
  };
  struct TensorRow {
    int index = 0;
    std::string name;
    std::vector<std::int64_t> shape;
    std::int64_t numel = 0;
    std::int64_t running_total = 0;
  };
  struct Bytes {
    DType dtype;
    std::uint64_t parameters = 0;      // arena bytes of the parameters alone
    std::uint64_t train_adamw = 0;     // parameters + gradients + m + v (+ f32 master weights)
    CategoryBytes train_categories{};  // the same, per arena category
  };
  struct TreeNode {
    int depth = 0;
    std::string name;  // qualified name ("" for the model)
    std::string type;
    std::int64_t count = 0;  // unique parameters first registered in this subtree
    std::uint64_t bytes = 0;
  };

  ModelConfig config;
  std::int64_t total = 0, trainable = 0;
  std::int64_t analytic_total = 0;
  std::int64_t biases = 0, layernorm = 0, other = 0;  // exact - analytic, broken down
  std::vector<Row> rows;
  std::vector<TensorRow> tensors;
  std::vector<Bytes> bytes;  // f32, bf16, f16
  std::vector<TreeNode> tree;
};

// Builds the model on the meta device (no memory) once per dtype.
ParamReport make_param_report(const ModelConfig& config);

}  // namespace cugpt
