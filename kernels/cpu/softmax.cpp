#include <algorithm>
#include <cmath>

#include "kernels/error.h"
#include "kernels/softmax.h"

namespace cugpt::kernels {

namespace {
template <typename T>
void softmax(T* out, const T* x, int rows, int cols) {
  CUGPT_CHECK(rows >= 0 && cols > 0, "softmax: bad sizes");
  for (int r = 0; r < rows; ++r) {
    const T* in = x + static_cast<std::size_t>(r) * cols;
    T* o = out + static_cast<std::size_t>(r) * cols;
    const T mx = *std::max_element(in, in + cols);
    T sum = 0;
    for (int c = 0; c < cols; ++c) sum += o[c] = std::exp(in[c] - mx);
    for (int c = 0; c < cols; ++c) o[c] /= sum;
  }
}
}  // namespace

void softmax_forward_cpu(float* out, const float* x, int rows, int cols) {
  softmax(out, x, rows, cols);
}

void softmax_forward_cpu(double* out, const double* x, int rows, int cols) {
  softmax(out, x, rows, cols);
}

}  // namespace cugpt::kernels
