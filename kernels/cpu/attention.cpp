#include <Eigen/Core>
#include <limits>

#include "kernels/attention.h"
#include "kernels/error.h"

namespace cugpt::kernels {

namespace {
template <typename T>
using Rows = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
// A head's (T, D) slice of a (B, T, row_stride) buffer, read in place.
template <typename T>
using HeadView = Eigen::Map<T, Eigen::Unaligned, Eigen::OuterStride<>>;

// Turns a row of scores into probabilities over the keys the query may see (the first `keys`,
// minus padding); every other entry becomes exactly 0, so that the row can be copied to probs
// as is and P * V ignores it.
template <typename T>
void masked_softmax(T* row, int cols, int keys, const std::int32_t* mask) {
  constexpr T lowest = -std::numeric_limits<T>::infinity();
  Eigen::Map<Eigen::Array<T, 1, Eigen::Dynamic>> s(row, cols);
  s.tail(cols - keys).setZero();
  auto seen = s.head(keys);
  if (mask)
    for (int j = 0; j < keys; ++j)
      if (!mask[j]) seen[j] = lowest;
  const T mx = seen.maxCoeff();
  if (mx == lowest) {  // no attendable key: a zero row
    seen.setZero();
    return;
  }
  seen = (seen - mx).exp();
  // Eigen 3.3's vectorised exp clamps its input, so exp(-inf) is not exactly 0 there.
  if (mask)
    for (int j = 0; j < keys; ++j)
      if (!mask[j]) seen[j] = 0;
  seen /= seen.sum();
}

// One (batch, head) at a time, as two GEMMs around a row-wise softmax: for T up to ~1K the
// (T, T) score block is a few MB, and Eigen's GEMM is far faster than a per-query dot loop.
template <typename T>
void attend(const AttentionArgs<T>& a) {
  CUGPT_CHECK(a.B >= 0 && a.T >= 0 && a.H > 0 && a.D > 0 && a.row_stride >= a.H * a.D,
              "attention: bad sizes");
  const int C = a.H * a.D;
  const Eigen::OuterStride<> in_stride(a.row_stride), out_stride(C);
  Rows<T> S(a.T, a.T);
  for (int b = 0; b < a.B; ++b) {
    const std::size_t row0 = static_cast<std::size_t>(b) * a.T;
    const std::int32_t* mask = a.key_mask ? a.key_mask + row0 : nullptr;
    for (int h = 0; h < a.H; ++h) {
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
  }
}
}  // namespace

void attention_forward_cpu(const AttentionArgs<float>& a) {
  attend(a);
}
void attention_forward_cpu(const AttentionArgs<double>& a) {
  attend(a);
}

}  // namespace cugpt::kernels
