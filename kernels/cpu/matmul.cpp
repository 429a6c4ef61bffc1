#include <Eigen/Core>

#include "kernels/error.h"
#include "kernels/matmul.h"

namespace cugpt::kernels {

namespace {
template <typename T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <typename T>
void matmul(T* out, const T* x, const T* w, const T* bias, int N, int IC, int OC, bool w_in_out) {
  CUGPT_CHECK(N >= 0 && IC > 0 && OC > 0, "matmul: bad sizes");
  Eigen::Map<const RowMajor<T>> X(x, N, IC);
  Eigen::Map<RowMajor<T>> Y(out, N, OC);
  // Eigen's GEMM, with the transpose folded into the product rather than materialised.
  if (w_in_out) {
    Y.noalias() = X * Eigen::Map<const RowMajor<T>>(w, IC, OC);
  } else {
    Y.noalias() = X * Eigen::Map<const RowMajor<T>>(w, OC, IC).transpose();
  }
  if (bias) Y.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(bias, OC);
}
}  // namespace

void matmul_forward_cpu(float* out, const float* x, const float* w, const float* bias, int N,
                        int IC, int OC, bool w_in_out) {
  matmul(out, x, w, bias, N, IC, OC, w_in_out);
}

void matmul_forward_cpu(double* out, const double* x, const double* w, const double* bias, int N,
                        int IC, int OC, bool w_in_out) {
  matmul(out, x, w, bias, N, IC, OC, w_in_out);
}

}  // namespace cugpt::kernels
