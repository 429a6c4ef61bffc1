#include "analysis/metric.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/error.h"

namespace cugpt::analysis {

void check_metric(const Metric& m, const Batch& batch, std::int64_t V) {
  if (m.kind == Metric::Kind::loss) {
    if (batch.T < 2) throw Error("the loss needs sequences of at least 2 tokens");
    return;
  }
  if (m.position >= batch.T || m.position < -1)
    throw Error("position " + std::to_string(m.position) + " of a sequence of " +
                std::to_string(batch.T));
  if (m.target < 0 || m.target >= V)
    throw Error("target token " + std::to_string(m.target) + " out of range (vocabulary " +
                std::to_string(V) + ")");
  if (m.distractor >= V)
    throw Error("distractor token " + std::to_string(m.distractor) + " out of range");
}

std::vector<double> log_softmax(const float* logits, std::int64_t V) {
  const double mx = *std::max_element(logits, logits + V);
  double sum = 0.0;
  for (std::int64_t v = 0; v < V; ++v) sum += std::exp(logits[v] - mx);
  const double lse = mx + std::log(sum);
  std::vector<double> out(static_cast<std::size_t>(V));
  for (std::int64_t v = 0; v < V; ++v) out[v] = logits[v] - lse;
  return out;
}

double evaluate(const Metric& m, const Batch& batch, const std::vector<float>& logits,
                std::int64_t V) {
  const std::int64_t B = batch.B, T = batch.T;
  double total = 0.0;
  if (m.kind == Metric::Kind::loss) {
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t t = 0; t + 1 < T; ++t) {
        const std::vector<double> lp = log_softmax(&logits[(b * T + t) * V], V);
        total -= lp[static_cast<std::size_t>(batch.tokens[b * T + t + 1])];
      }
    return total / static_cast<double>(B * (T - 1));
  }
  const std::int64_t t = m.position < 0 ? T - 1 : m.position;
  for (std::int64_t b = 0; b < B; ++b) {
    const float* row = &logits[(b * T + t) * V];
    total += row[m.target] - (m.distractor >= 0 ? row[m.distractor] : 0.0f);
  }
  return total / static_cast<double>(B);
}

}  // namespace cugpt::analysis
