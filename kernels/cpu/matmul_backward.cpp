#include <Eigen/Core>
#include <vector>

#include "kernels/cpu/gemm_tiles.h"
#include "kernels/error.h"
#include "kernels/matmul.h"

namespace cugpt::kernels {

namespace {
template <typename T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Three GEMMs with Eigen, the transposes folded into the products as in the forward, each
// split into output tiles (kernels/cpu/gemm_tiles.h): dW's tiles sum over all N rows in one
// product, so no thread ever adds a partial sum of another's.
template <typename T>
void matmul_backward(T* dx, T* dw, T* dbias, const T* dout, const T* x, const T* w, int N, int IC,
                     int OC, bool w_in_out, int ld_dout) {
  if (ld_dout == 0) ld_dout = OC;
  CUGPT_CHECK(N >= 0 && IC > 0 && OC > 0 && ld_dout >= OC, "matmul_backward: bad sizes");
  // dout's rows lie ld_dout apart (the padded logits' gradient): only OC columns are read.
  Eigen::Map<const RowMajor<T>, 0, Eigen::OuterStride<>> G(dout, N, OC,
                                                           Eigen::OuterStride<>(ld_dout));
  Eigen::Map<const RowMajor<T>> X(x, N, IC);
  if (dx) {
    Eigen::Map<RowMajor<T>> DX(dx, N, IC);
    cpu_detail::for_each_tile(
        N, IC, OC, [&](Eigen::Index r0, Eigen::Index rows, Eigen::Index c0, Eigen::Index cols) {
          auto d = DX.block(r0, c0, rows, cols);
          const auto g = G.middleRows(r0, rows);
          if (w_in_out) {  // W is (IC, OC): dX = G W^T
            d.noalias() =
                g * Eigen::Map<const RowMajor<T>>(w, IC, OC).middleRows(c0, cols).transpose();
          } else {  // W is (OC, IC): dX = G W
            d.noalias() = g * Eigen::Map<const RowMajor<T>>(w, OC, IC).middleCols(c0, cols);
          }
        });
  }
  if (dw) {
    if (w_in_out) {  // dW (IC, OC) += X^T G
      Eigen::Map<RowMajor<T>> DW(dw, IC, OC);
      cpu_detail::for_each_tile(
          IC, OC, N, [&](Eigen::Index r0, Eigen::Index rows, Eigen::Index c0, Eigen::Index cols) {
            DW.block(r0, c0, rows, cols).noalias() +=
                X.middleCols(r0, rows).transpose() * G.middleCols(c0, cols);
          });
    } else {  // dW (OC, IC) += G^T X
      Eigen::Map<RowMajor<T>> DW(dw, OC, IC);
      cpu_detail::for_each_tile(
          OC, IC, N, [&](Eigen::Index r0, Eigen::Index rows, Eigen::Index c0, Eigen::Index cols) {
            DW.block(r0, c0, rows, cols).noalias() +=
                G.middleCols(r0, rows).transpose() * X.middleCols(c0, cols);
          });
    }
  }
  if (dbias) {
    // Each column's sum runs down all N rows on one thread, in row order, then adds to dbias.
    // A plain loop, not Eigen's colwise().sum(): that one's order depends on dbias' address
    // (its vectorised part starts at the first aligned element).
    parallel_chunks(OC, chunk_for(OC, static_cast<double>(N)),
                    [&](std::int64_t c0, std::int64_t c1) {
                      std::vector<T> sum(static_cast<std::size_t>(c1 - c0), T(0));
                      for (int n = 0; n < N; ++n) {
                        const T* g = dout + static_cast<std::size_t>(n) * ld_dout + c0;
                        for (std::int64_t c = 0; c < c1 - c0; ++c) sum[c] += g[c];
                      }
                      for (std::int64_t c = 0; c < c1 - c0; ++c) dbias[c0 + c] += sum[c];
                    });
  }
}
}  // namespace

void matmul_backward_cpu(float* dx, float* dw, float* dbias, const float* dout, const float* x,
                         const float* w, int N, int IC, int OC, bool w_in_out, int ld_dout) {
  matmul_backward(dx, dw, dbias, dout, x, w, N, IC, OC, w_in_out, ld_dout);
}

void matmul_backward_cpu(double* dx, double* dw, double* dbias, const double* dout, const double* x,
                         const double* w, int N, int IC, int OC, bool w_in_out, int ld_dout) {
  matmul_backward(dx, dw, dbias, dout, x, w, N, IC, OC, w_in_out, ld_dout);
}

}  // namespace cugpt::kernels
