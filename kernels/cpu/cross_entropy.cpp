#include "kernels/cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/cpu/threads.h"
#include "kernels/error.h"

namespace cugpt::kernels {

namespace {
template <typename T>
void cross_entropy(T* losses, T* dlogits, const T* logits, const std::int32_t* targets, int N,
                   int V, int ignore_index, T grad_scale, int ld) {
  if (ld == 0) ld = V;
  CUGPT_CHECK(N >= 0 && V > 0 && ld >= V, "cross_entropy: bad sizes");
  // Every target is checked before any row is written, so a bad id leaves the logits (which
  // dlogits may alias) intact for the caller's error report.
  for (int n = 0; n < N; ++n) {
    const std::int32_t t = targets[n];
    CUGPT_CHECK(t == ignore_index || (t >= 0 && t < V),
                "cross_entropy: row " + std::to_string(n) + " has target id " + std::to_string(t) +
                    ", outside [0, " + std::to_string(V) + ")");
  }
  // Rows in parallel (fixed chunks): a row's loss and gradient are one thread's, and the
  // caller sums the per-row losses in row order.
  parallel_chunks(N, chunk_for(N, 6.0 * V), [&](std::int64_t n0, std::int64_t n1) {
    for (std::int64_t n = n0; n < n1; ++n) {
      // Rows lie ld apart; the padding columns [V, ld) are neither read nor written.
      const T* row = logits + static_cast<std::size_t>(n) * ld;
      T* grad = dlogits ? dlogits + static_cast<std::size_t>(n) * ld : nullptr;
      const std::int32_t t = targets[n];
      if (t == ignore_index) {
        if (losses) losses[n] = T(0);
        if (grad) std::fill(grad, grad + V, T(0));
        continue;
      }
      // The sum accumulates in double: a float sum over 50k exponentials loses digits.
      const T mx = *std::max_element(row, row + V);
      double sum = 0;
      for (int v = 0; v < V; ++v) sum += std::exp(row[v] - mx);
      // Read the target logit before grad, which may alias row, overwrites it.
      if (losses) losses[n] = static_cast<T>(std::log(sum) - static_cast<double>(row[t] - mx));
      if (!grad) continue;
      // The exponentials are recomputed rather than stored: no (V) buffer beside dlogits.
      const double inv = 1.0 / sum;
      for (int v = 0; v < V; ++v) {
        const double p = static_cast<double>(std::exp(row[v] - mx)) * inv;
        grad[v] = static_cast<T>(grad_scale * (p - (v == t ? 1.0 : 0.0)));
      }
    }
  });
}
}  // namespace

void cross_entropy_forward_backward_cpu(float* losses, float* dlogits, const float* logits,
                                        const std::int32_t* targets, int N, int V, int ignore_index,
                                        float grad_scale, int ld) {
  cross_entropy(losses, dlogits, logits, targets, N, V, ignore_index, grad_scale, ld);
}

void cross_entropy_forward_backward_cpu(double* losses, double* dlogits, const double* logits,
                                        const std::int32_t* targets, int N, int V, int ignore_index,
                                        double grad_scale, int ld) {
  cross_entropy(losses, dlogits, logits, targets, N, V, ignore_index, grad_scale, ld);
}

}  // namespace cugpt::kernels
