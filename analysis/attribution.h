// Direct logit attribution: the residual stream at the final LayerNorm is a sum of parts — the
// embeddings, each head's output through its slice of the output projection, each projection's
// bias, each MLP's output — so a logit (or a difference of two) is, with the final LayerNorm's
// scale at that position held fixed, a sum of one term per part plus a constant (the LayerNorm's
// shift and the unembedding's bias). The terms sum to the logit the model computed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/model.h"

namespace cugpt::analysis {

struct Attribution {
  std::int64_t L = 0, H = 0;
  double embeddings = 0.0;
  std::vector<double> heads;      // (L, H)
  std::vector<double> attn_bias;  // (L): the output projection's bias (0 without one)
  std::vector<double> mlps;       // (L)
  double constant = 0.0;          // the final LayerNorm's shift and the unembedding's bias
  double total = 0.0;             // the sum of everything above
  double logit = 0.0;             // what the forward computed: equals total up to rounding
};

// batch: one sequence. distractor < 0: the target's logit alone; position -1: the last.
Attribution direct_logit_attribution(Model& model, const Batch& batch, std::int32_t target,
                                     std::int32_t distractor = -1, std::int64_t position = -1);

}  // namespace cugpt::analysis
