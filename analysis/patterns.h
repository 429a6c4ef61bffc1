// Attention-pattern scores, the standard test for induction heads: on a random sequence of n
// tokens followed by the same n again, a previous-token head attends from each position to the
// one before it, and an induction head attends from each token of the repeat to the token after
// that token's first occurrence (n - 1 back), which is what lets it predict the repeat.
#pragma once

#include <cstdint>
#include <vector>

#include "models/model.h"

namespace cugpt::analysis {

// n tokens drawn uniformly from [0, vocab) by a 64-bit LCG of `seed` (the same on every
// platform), then the same n again: 2 n tokens.
std::vector<std::int32_t> repeated_random_tokens(std::int64_t vocab, std::int64_t n,
                                                 std::uint64_t seed);
// The same draw over `pool` (non-empty) instead of [0, vocab): token i is pool[draw_i % size].
// For a model that only ever saw part of its vocabulary (a byte model trained on ASCII text),
// the pool is the ids of a text it knows, so that the test asks for copying, not for embeddings
// of ids it never saw.
std::vector<std::int32_t> repeated_random_tokens(const std::vector<std::int32_t>& pool,
                                                 std::int64_t n, std::uint64_t seed);

struct PatternScores {
  std::int64_t L = 0, H = 0, n = 0;
  // (L, H). previous: the mean of A[i][i-1] over i in [1, 2n); induction: the mean of
  // A[i][i-n+1] over i in [n, 2n), A the head's attention probabilities.
  std::vector<double> previous, induction;
};

// tokens: 2 n tokens whose second half repeats the first.
PatternScores pattern_scores(Model& model, const std::vector<std::int32_t>& tokens);

}  // namespace cugpt::analysis
