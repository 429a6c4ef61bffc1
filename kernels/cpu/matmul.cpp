#include <Eigen/Core>

#include "kernels/cpu/gemm_tiles.h"
#include "kernels/error.h"
#include "kernels/matmul.h"

namespace cugpt::kernels {

namespace {
template <typename T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
// A row-major matrix whose rows lie `ld` elements apart (the padded logits).
template <typename T>
using Pitched = Eigen::Map<RowMajor<T>, 0, Eigen::OuterStride<>>;

// Eigen's GEMM, with the transpose folded into the product rather than materialised, one
// output tile per call (kernels/cpu/gemm_tiles.h).
template <typename T>
void matmul(T* out, const T* x, const T* w, const T* bias, int N, int IC, int OC, bool w_in_out,
            int ld_out) {
  if (ld_out == 0) ld_out = OC;
  CUGPT_CHECK(N >= 0 && IC > 0 && OC > 0 && ld_out >= OC, "matmul: bad sizes");
  Eigen::Map<const RowMajor<T>> X(x, N, IC);
  Pitched<T> Y(out, N, OC, Eigen::OuterStride<>(ld_out));
  cpu_detail::for_each_tile(
      N, OC, IC, [&](Eigen::Index r0, Eigen::Index rows, Eigen::Index c0, Eigen::Index cols) {
        auto y = Y.block(r0, c0, rows, cols);
        const auto xs = X.middleRows(r0, rows);
        if (w_in_out) {
          y.noalias() = xs * Eigen::Map<const RowMajor<T>>(w, IC, OC).middleCols(c0, cols);
        } else {
          y.noalias() =
              xs * Eigen::Map<const RowMajor<T>>(w, OC, IC).middleRows(c0, cols).transpose();
        }
        if (bias)
          y.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(bias + c0, cols);
      });
}
}  // namespace

void matmul_forward_cpu(float* out, const float* x, const float* w, const float* bias, int N,
                        int IC, int OC, bool w_in_out, int ld_out) {
  matmul(out, x, w, bias, N, IC, OC, w_in_out, ld_out);
}

void matmul_forward_cpu(double* out, const double* x, const double* w, const double* bias, int N,
                        int IC, int OC, bool w_in_out, int ld_out) {
  matmul(out, x, w, bias, N, IC, OC, w_in_out, ld_out);
}

}  // namespace cugpt::kernels
