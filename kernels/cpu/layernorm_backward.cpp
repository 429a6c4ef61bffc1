#include "kernels/cpu/threads.h"
#include "kernels/error.h"
#include "kernels/layernorm.h"

namespace cugpt::kernels {

namespace {
// With xhat = (x - mean) * rstd and g = dout * weight:
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)).
// The two row means accumulate in double, as the forward's statistics do.
//
// Two passes, each split in fixed chunks across threads: dweight and dbias by columns, each
// column summed down the rows in row order on one thread (so the bits do not depend on the
// thread count, and equal a single thread's row-by-row sum); then dx by rows. The column pass
// runs first because dx may alias dout.
template <typename T>
void layernorm_backward(T* dx, T* dweight, T* dbias, const T* dout, const T* x, const T* weight,
                        const T* mean, const T* rstd, int N, int C) {
  CUGPT_CHECK(N >= 0 && C > 0, "layernorm_backward: bad sizes");
  if (dweight || dbias) {
    parallel_chunks(C, chunk_for(C, 4.0 * N), [&](std::int64_t c0, std::int64_t c1) {
      for (int n = 0; n < N; ++n) {
        const std::size_t off = static_cast<std::size_t>(n) * C;
        const T* go = dout + off;
        const T* row = x + off;
        const double m = mean[n], r = rstd[n];
        for (std::int64_t c = c0; c < c1; ++c) {
          const double xhat = (row[c] - m) * r;
          if (dweight) dweight[c] += static_cast<T>(go[c] * xhat);
          if (dbias) dbias[c] += go[c];
        }
      }
    });
  }
  parallel_chunks(N, chunk_for(N, 10.0 * C), [&](std::int64_t n0, std::int64_t n1) {
    for (std::int64_t n = n0; n < n1; ++n) {
      const std::size_t off = static_cast<std::size_t>(n) * C;
      const T* go = dout + off;
      const T* row = x + off;
      const double m = mean[n], r = rstd[n];
      double g_mean = 0, gx_mean = 0;
      for (int c = 0; c < C; ++c) {
        const double xhat = (row[c] - m) * r;
        const double g = static_cast<double>(go[c]) * weight[c];
        g_mean += g;
        gx_mean += g * xhat;
      }
      g_mean /= C;
      gx_mean /= C;
      // go[c] is read before dx[c] is written, so dx may alias dout.
      for (int c = 0; c < C; ++c) {
        const double xhat = (row[c] - m) * r;
        const double g = static_cast<double>(go[c]) * weight[c];
        dx[off + c] = static_cast<T>(r * (g - g_mean - xhat * gx_mean));
      }
    }
  });
}
}  // namespace

void layernorm_backward_cpu(float* dx, float* dweight, float* dbias, const float* dout,
                            const float* x, const float* weight, const float* mean,
                            const float* rstd, int N, int C) {
  layernorm_backward(dx, dweight, dbias, dout, x, weight, mean, rstd, N, C);
}

void layernorm_backward_cpu(double* dx, double* dweight, double* dbias, const double* dout,
                            const double* x, const double* weight, const double* mean,
                            const double* rstd, int N, int C) {
  layernorm_backward(dx, dweight, dbias, dout, x, weight, mean, rstd, N, C);
}

}  // namespace cugpt::kernels
