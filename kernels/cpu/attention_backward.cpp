#include <Eigen/Core>

#include "kernels/attention.h"
#include "kernels/cpu/softmax_rows.h"
#include "kernels/cpu/threads.h"
#include "kernels/error.h"

namespace cugpt::kernels {

namespace {
template <typename T>
using Rows = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using HeadView = Eigen::Map<T, Eigen::Unaligned, Eigen::OuterStride<>>;

// One (batch, head) per chunk, in parallel; each writes only its own head's columns of dq, dk
// and dv (in a fused (B, T, 3C) gradient buffer the other columns belong to other heads, or
// are not gradients at all). The probabilities P are recomputed exactly as the forward
// computes them (the same GEMM and cpu_detail::masked_softmax), then, as GEMMs,
//   dP = dout · V^T,  dS = scale · P ⊙ (dP − rowsum(dP ⊙ P)),
//   dq = dS · K,  dk = dS^T · Q,  dv = P^T · dout.
// Entries a query may not see are exactly 0 in P, hence in dS: they add nothing anywhere, and
// a row with no visible key (all padding) gives zero gradients.
template <typename T>
void attend_backward(const AttentionBackwardArgs<T>& a) {
  CUGPT_CHECK(a.B >= 0 && a.T >= 0 && a.H > 0 && a.D > 0 && a.row_stride >= a.H * a.D,
              "attention_backward: bad sizes");
  CUGPT_CHECK(a.dq && a.dk && a.dv && a.dout, "attention_backward: null gradient pointer");
  const int C = a.H * a.D;
  const Eigen::OuterStride<> in_stride(a.row_stride), out_stride(C);
  // Five (T, T, D) products per (batch, head): the recomputed scores, dP, dq, dk and dv.
  const double work = 10.0 * a.B * a.H * static_cast<double>(a.T) * a.T * a.D;
  parallel_chunks(
      static_cast<std::int64_t>(a.B) * a.H, 1,
      [&](std::int64_t bh0, std::int64_t bh1) {
        Rows<T> P(a.T, a.T), dS(a.T, a.T);
        for (std::int64_t bh = bh0; bh < bh1; ++bh) {
          const int b = static_cast<int>(bh / a.H), h = static_cast<int>(bh % a.H);
          const std::size_t row0 = static_cast<std::size_t>(b) * a.T;
          const std::int32_t* mask = a.key_mask ? a.key_mask + row0 : nullptr;
          const std::size_t in0 = row0 * a.row_stride + static_cast<std::size_t>(h) * a.D;
          const HeadView<const Rows<T>> Q(a.q + in0, a.T, a.D, in_stride);
          const HeadView<const Rows<T>> K(a.k + in0, a.T, a.D, in_stride);
          const HeadView<const Rows<T>> V(a.v + in0, a.T, a.D, in_stride);
          const HeadView<const Rows<T>> dO(a.dout + row0 * C + static_cast<std::size_t>(h) * a.D,
                                           a.T, a.D, out_stride);
          HeadView<Rows<T>> dQ(a.dq + in0, a.T, a.D, in_stride);
          HeadView<Rows<T>> dK(a.dk + in0, a.T, a.D, in_stride);
          HeadView<Rows<T>> dV(a.dv + in0, a.T, a.D, in_stride);
          P.noalias() = (Q * a.scale) * K.transpose();
          for (int i = 0; i < a.T; ++i)
            cpu_detail::masked_softmax(P.row(i).data(), a.T, a.causal ? i + 1 : a.T, mask);
          dS.noalias() = dO * V.transpose();  // dP, turned into dS in place below
          for (int i = 0; i < a.T; ++i) {
            auto p = P.row(i).array();
            auto ds = dS.row(i).array();
            const T p_dp = (p * ds).sum();
            ds = a.scale * p * (ds - p_dp);
          }
          if (a.causal) {  // P and dS are lower triangular: half the products
            dQ.noalias() = dS.template triangularView<Eigen::Lower>() * K;
            dK.noalias() = dS.transpose().template triangularView<Eigen::Upper>() * Q;
            dV.noalias() = P.transpose().template triangularView<Eigen::Upper>() * dO;
          } else {
            dQ.noalias() = dS * K;
            dK.noalias() = dS.transpose() * Q;
            dV.noalias() = P.transpose() * dO;
          }
        }
      },
      work);
}
}  // namespace

void attention_backward_cpu(const AttentionBackwardArgs<float>& a) {
  attend_backward(a);
}
void attention_backward_cpu(const AttentionBackwardArgs<double>& a) {
  attend_backward(a);
}

}  // namespace cugpt::kernels
