#include <cmath>

#include "kernels/cpu/threads.h"
#include "kernels/error.h"
#include "kernels/layernorm.h"

namespace cugpt::kernels {

namespace {
// Mean and variance accumulate in double even for float inputs: rows of 768+ values with a
// large mean would otherwise lose digits to cancellation.
template <typename T>
void layernorm(T* out, T* mean, T* rstd, const T* x, const T* weight, const T* bias, int N, int C,
               T eps) {
  CUGPT_CHECK(N >= 0 && C > 0, "layernorm: bad sizes");
  // Rows in parallel (fixed chunks): each row's statistics stay on one thread, in order.
  parallel_chunks(N, chunk_for(N, 8.0 * C), [&](std::int64_t n0, std::int64_t n1) {
    for (std::int64_t n = n0; n < n1; ++n) {
      const T* row = x + static_cast<std::size_t>(n) * C;
      double sum = 0;
      for (int c = 0; c < C; ++c) sum += row[c];
      const double m = sum / C;
      double var = 0;
      for (int c = 0; c < C; ++c) var += (row[c] - m) * (row[c] - m);
      var /= C;
      const double r = 1.0 / std::sqrt(var + static_cast<double>(eps));
      T* o = out + static_cast<std::size_t>(n) * C;
      for (int c = 0; c < C; ++c) o[c] = static_cast<T>((row[c] - m) * r) * weight[c] + bias[c];
      if (mean) mean[n] = static_cast<T>(m);
      if (rstd) rstd[n] = static_cast<T>(r);
    }
  });
}
}  // namespace

void layernorm_forward_cpu(float* out, float* mean, float* rstd, const float* x,
                           const float* weight, const float* bias, int N, int C, float eps) {
  layernorm(out, mean, rstd, x, weight, bias, N, C, eps);
}

void layernorm_forward_cpu(double* out, double* mean, double* rstd, const double* x,
                           const double* weight, const double* bias, int N, int C, double eps) {
  layernorm(out, mean, rstd, x, weight, bias, N, C, eps);
}

}  // namespace cugpt::kernels
