// Activation patching: run the corrupted prompt with one activation taken from the clean run —
// the residual stream at one (layer, position), or one head's output at every position — and
// report the fraction of the clean-minus-corrupted metric that this one patch restores:
// (patched - corrupted) / (clean - corrupted). 1 means the patched activation carries all
// the difference, 0 none of it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/metric.h"
#include "models/model.h"

namespace cugpt::analysis {

struct PatchResult {
  std::int64_t rows = 0, T = 0, L = 0, H = 0;  // rows = L + 1 residual points
  std::vector<std::string> row_names;
  double clean = 0.0, corrupted = 0.0;  // the metric of each prompt, unpatched
  std::vector<double> resid;            // (rows, T): fraction restored
  std::vector<double> heads;            // (L, H)
};

// clean and corrupted: one sequence each, of the same length; the metric is a logit (or logit
// difference) at a position.
PatchResult activation_patching(Model& model, const Batch& clean, const Batch& corrupted,
                                const Metric& metric);

}  // namespace cugpt::analysis
