#include "kernels/residual.h"
#include "kernels/cpu/threads.h"

namespace cugpt::kernels {

namespace {
template <typename T>
void add(T* out, const T* a, const T* b, std::size_t n) {
  const auto N = static_cast<std::int64_t>(n);
  parallel_chunks(N, chunk_for(N, 1), [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) out[i] = a[i] + b[i];
  });
}
}  // namespace

void residual_forward_cpu(float* out, const float* a, const float* b, std::size_t n) {
  add(out, a, b, n);
}

void residual_forward_cpu(double* out, const double* a, const double* b, std::size_t n) {
  add(out, a, b, n);
}

}  // namespace cugpt::kernels
