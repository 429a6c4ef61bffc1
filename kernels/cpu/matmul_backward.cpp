#include <Eigen/Core>

#include "kernels/error.h"
#include "kernels/matmul.h"

namespace cugpt::kernels {

namespace {
template <typename T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Three GEMMs with Eigen, the transposes folded into the products as in the forward.
template <typename T>
void matmul_backward(T* dx, T* dw, T* dbias, const T* dout, const T* x, const T* w, int N, int IC,
                     int OC, bool w_in_out) {
  CUGPT_CHECK(N >= 0 && IC > 0 && OC > 0, "matmul_backward: bad sizes");
  Eigen::Map<const RowMajor<T>> G(dout, N, OC);
  Eigen::Map<const RowMajor<T>> X(x, N, IC);
  if (dx) {
    Eigen::Map<RowMajor<T>> DX(dx, N, IC);
    if (w_in_out) {
      DX.noalias() = G * Eigen::Map<const RowMajor<T>>(w, IC, OC).transpose();
    } else {
      DX.noalias() = G * Eigen::Map<const RowMajor<T>>(w, OC, IC);
    }
  }
  if (dw) {
    if (w_in_out) {
      Eigen::Map<RowMajor<T>>(dw, IC, OC).noalias() += X.transpose() * G;
    } else {
      Eigen::Map<RowMajor<T>>(dw, OC, IC).noalias() += G.transpose() * X;
    }
  }
  if (dbias) Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>(dbias, OC) += G.colwise().sum();
}
}  // namespace

void matmul_backward_cpu(float* dx, float* dw, float* dbias, const float* dout, const float* x,
                         const float* w, int N, int IC, int OC, bool w_in_out) {
  matmul_backward(dx, dw, dbias, dout, x, w, N, IC, OC, w_in_out);
}

void matmul_backward_cpu(double* dx, double* dw, double* dbias, const double* dout, const double* x,
                         const double* w, int N, int IC, int OC, bool w_in_out) {
  matmul_backward(dx, dw, dbias, dout, x, w, N, IC, OC, w_in_out);
}

}  // namespace cugpt::kernels
