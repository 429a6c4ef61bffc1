// Statistics `cugpt inspect` reports per layer: the residual stream's mean, standard deviation,
// RMS and largest magnitude, and each head's attention entropy.
#pragma once

#include <cstdint>
#include <vector>

namespace cugpt {

struct ValueStats {
  double mean = 0, std = 0, rms = 0, max_abs = 0;
};
// Over every element (population standard deviation), in double.
ValueStats value_stats(const std::vector<float>& values);

// Per head: the mean over query rows (and sequences) of -sum_j p_j ln p_j, in nats, for
// probabilities laid out (B, H, T, T). A row with no visible key (all zeros) is left out; a
// uniform row over n keys gives ln n.
std::vector<double> attention_entropy(const std::vector<float>& probs, std::int64_t B,
                                      std::int64_t H, std::int64_t T);

}  // namespace cugpt
