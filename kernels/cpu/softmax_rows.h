// The attention kernels' row softmax, shared by the forward and the backward so that the
// backward's recomputed probabilities are the forward's, bit for bit.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <limits>

namespace cugpt::kernels::cpu_detail {

// Turns a row of scores into probabilities over the keys the query may see (the first `keys`,
// minus padding); every other entry becomes exactly 0, so that the row can be copied to probs
// as is and P * V ignores it.
template <typename T>
inline void masked_softmax(T* row, int cols, int keys, const std::int32_t* mask) {
  constexpr T lowest = -std::numeric_limits<T>::infinity();
  Eigen::Map<Eigen::Array<T, 1, Eigen::Dynamic>> s(row, cols);
  s.tail(cols - keys).setZero();
  auto seen = s.head(keys);
  if (mask)
    for (int j = 0; j < keys; ++j)
      if (!mask[j]) seen[j] = lowest;
  const T mx = seen.maxCoeff();
  if (mx == lowest) {  // no attendable key: a zero row
    seen.setZero();
    return;
  }
  seen = (seen - mx).exp();
  // Eigen 3.3's vectorised exp clamps its input, so exp(-inf) is not exactly 0 there.
  if (mask)
    for (int j = 0; j < keys; ++j)
      if (!mask[j]) seen[j] = 0;
  seen /= seen.sum();
}

}  // namespace cugpt::kernels::cpu_detail
