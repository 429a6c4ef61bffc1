// The logit lens: the residual stream after each layer (and the embeddings before the first),
// read out as if it were the last — through the final LayerNorm and the unembedding — to see
// at which depth the model's prediction forms.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/model.h"

namespace cugpt::analysis {

struct LensResult {
  std::int64_t rows = 0, T = 0, k = 0;    // rows = n_layer + 1: embeddings, then each block
  std::vector<std::string> row_names;     // the hook names read
  std::vector<std::int32_t> targets;      // (T): the token followed at each position
  std::vector<float> target_logprob;      // (rows, T)
  std::vector<std::int64_t> target_rank;  // (rows, T): 0 is the top token
  std::vector<std::int32_t> top_ids;      // (rows, T, k), most probable first
  std::vector<float> top_probs;           // (rows, T, k)
};

// batch: one sequence. target < 0 follows, at each position, the token the full model ranks
// first there (where its answer comes from); otherwise that one token everywhere.
LensResult logit_lens(Model& model, const Batch& batch, std::int64_t k, std::int32_t target = -1);

}  // namespace cugpt::analysis
