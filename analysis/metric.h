// What an ablation or a patch is measured by, read from the logits of one forward.
#pragma once

#include <cstdint>
#include <vector>

#include "models/model.h"

namespace cugpt::analysis {

struct Metric {
  // loss: the mean next-token cross-entropy over the batch (each position predicting the
  // token after it). logit: logit[target] - logit[distractor] at `position` of every sequence,
  // averaged over the batch (distractor < 0: logit[target] alone).
  enum class Kind { loss, logit } kind = Kind::loss;
  std::int64_t position = -1;  // -1: the last position
  std::int32_t target = -1, distractor = -1;
};

// Checks the metric against the batch and the vocabulary; one-line errors.
void check_metric(const Metric& m, const Batch& batch, std::int64_t V);

// logits: (B, T, V) host f32 of that batch.
double evaluate(const Metric& m, const Batch& batch, const std::vector<float>& logits,
                std::int64_t V);

// log softmax of one row of V logits, in double.
std::vector<double> log_softmax(const float* logits, std::int64_t V);

}  // namespace cugpt::analysis
