#include "models/activation_stats.h"

#include <algorithm>
#include <cmath>

#include "kernels/error.h"

namespace cugpt {

ValueStats value_stats(const std::vector<float>& values) {
  ValueStats s;
  if (values.empty()) return s;
  double sum = 0, sum_sq = 0;
  for (float v : values) {
    sum += v;
    sum_sq += static_cast<double>(v) * v;
    s.max_abs = std::max(s.max_abs, std::fabs(static_cast<double>(v)));
  }
  const double n = static_cast<double>(values.size());
  s.mean = sum / n;
  s.rms = std::sqrt(sum_sq / n);
  s.std = std::sqrt(std::max(0.0, sum_sq / n - s.mean * s.mean));
  return s;
}

std::vector<double> attention_entropy(const std::vector<float>& probs, std::int64_t B,
                                      std::int64_t H, std::int64_t T) {
  if (static_cast<std::int64_t>(probs.size()) != B * H * T * T)
    throw Error("attention_entropy: " + std::to_string(probs.size()) + " values for (" +
                std::to_string(B) + ", " + std::to_string(H) + ", " + std::to_string(T) + ", " +
                std::to_string(T) + ")");
  std::vector<double> out(static_cast<std::size_t>(H), 0.0);
  for (std::int64_t h = 0; h < H; ++h) {
    double total = 0;
    std::int64_t rows = 0;
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t i = 0; i < T; ++i) {
        const float* row = probs.data() + ((b * H + h) * T + i) * T;
        double entropy = 0, mass = 0;
        for (std::int64_t j = 0; j < T; ++j) {
          mass += row[j];
          if (row[j] > 0) entropy -= row[j] * std::log(static_cast<double>(row[j]));
        }
        if (mass == 0) continue;
        total += entropy;
        ++rows;
      }
    out[static_cast<std::size_t>(h)] = rows ? total / static_cast<double>(rows) : 0.0;
  }
  return out;
}

}  // namespace cugpt
