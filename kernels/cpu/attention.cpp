#include <Eigen/Core>

#include "kernels/attention.h"
#include "kernels/cpu/softmax_rows.h"
#include "kernels/cpu/threads.h"
#include "kernels/error.h"

namespace cugpt::kernels {

namespace {
using cpu_detail::masked_softmax;

template <typename T>
using Rows = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
// A head's (T, D) slice of a (B, T, row_stride) buffer, read in place.
template <typename T>
using HeadView = Eigen::Map<T, Eigen::Unaligned, Eigen::OuterStride<>>;

// One (batch, head) per chunk, as two GEMMs around a row-wise softmax: for T up to ~1K the
// (T, T) score block is a few MB, and Eigen's GEMM is far faster than a per-query dot loop.
// The (batch, head) pairs run in parallel (kernels/cpu/threads.h); each writes only its own
// columns of out and its own block of probs.
template <typename T>
void attend(const AttentionArgs<T>& a) {
  CUGPT_CHECK(a.B >= 0 && a.T >= 0 && a.H > 0 && a.D > 0 && a.row_stride >= a.H * a.D,
              "attention: bad sizes");
  const int C = a.H * a.D;
  const Eigen::OuterStride<> in_stride(a.row_stride), out_stride(C);
  // (T, T) scores against D-wide rows, then the (T, D) output, per (batch, head).
  const double work = 4.0 * a.B * a.H * static_cast<double>(a.T) * a.T * a.D;
  parallel_chunks(
      static_cast<std::int64_t>(a.B) * a.H, 1,
      [&](std::int64_t bh0, std::int64_t bh1) {
        Rows<T> S(a.T, a.T);
        for (std::int64_t bh = bh0; bh < bh1; ++bh) {
          const int b = static_cast<int>(bh / a.H), h = static_cast<int>(bh % a.H);
          const std::size_t row0 = static_cast<std::size_t>(b) * a.T;
          const std::int32_t* mask = a.key_mask ? a.key_mask + row0 : nullptr;
          const std::size_t in0 = row0 * a.row_stride + static_cast<std::size_t>(h) * a.D;
          const HeadView<const Rows<T>> Q(a.q + in0, a.T, a.D, in_stride);
          const HeadView<const Rows<T>> K(a.k + in0, a.T, a.D, in_stride);
          const HeadView<const Rows<T>> V(a.v + in0, a.T, a.D, in_stride);
          S.noalias() = (Q * a.scale) * K.transpose();  // the scale folds into the GEMM's alpha
          for (int i = 0; i < a.T; ++i)
            masked_softmax(S.row(i).data(), a.T, a.causal ? i + 1 : a.T, mask);
          HeadView<Rows<T>> O(a.out + row0 * C + static_cast<std::size_t>(h) * a.D, a.T, a.D,
                              out_stride);
          if (a.causal) {
            O.noalias() = S.template triangularView<Eigen::Lower>() * V;  // half the products
          } else {
            O.noalias() = S * V;
          }
          if (a.probs) {
            const std::size_t p0 = (static_cast<std::size_t>(b) * a.H + h) * a.T * a.T;
            Eigen::Map<Rows<T>>(a.probs + p0, a.T, a.T) = S;
          }
        }
      },
      work);
}
}  // namespace

void attention_forward_cpu(const AttentionArgs<float>& a) {
  attend(a);
}
void attention_forward_cpu(const AttentionArgs<double>& a) {
  attend(a);
}

}  // namespace cugpt::kernels
