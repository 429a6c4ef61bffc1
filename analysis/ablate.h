// Ablation: replace one head's output (before the output projection) or one MLP's output with
// zero, or with its mean over a reference batch, and measure how the metric moves.
#pragma once

#include <cstdint>
#include <vector>

#include "analysis/metric.h"
#include "models/model.h"

namespace cugpt::analysis {

enum class Ablation { zero, mean };

struct AblationResult {
  std::int64_t L = 0, H = 0;
  double baseline = 0.0;      // the metric without ablation
  std::vector<double> heads;  // (L, H): metric ablated minus baseline (empty: not run)
  std::vector<double> mlps;   // (L)
};

// reference: the batch the means are taken over (every position of every sequence); nullptr
// uses `batch` itself. Only the layers listed (empty: all) are ablated.
AblationResult ablate(Model& model, const Batch& batch, const Metric& metric, Ablation kind,
                      const Batch* reference, bool heads, bool mlps,
                      const std::vector<std::int64_t>& layers = {});

}  // namespace cugpt::analysis
