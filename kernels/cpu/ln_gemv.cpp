#include <algorithm>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "kernels/layernorm.h"
#include "kernels/ln_gemv.h"
#include "kernels/sampling.h"

namespace cugpt::kernels {

namespace {
int ceil_div(int a, int b) {
  return (a + b - 1) / b;
}
}  // namespace

LnGemvPlan ln_gemv_plan(int B, int K, int N, DType dtype, bool w_in_out) {
  CUGPT_CHECK(B > 0 && K > 0 && N > 0, "ln_gemv: bad sizes");
  if (dtype != DType::f32 && dtype != DType::bf16 && dtype != DType::f16)
    throw Error(std::string("ln_gemv: no kernel for ") + dtype_name(dtype) + " (f32, bf16 or f16)");
  const int pack = 16 / static_cast<int>(dtype_size(dtype));
  LnGemvPlan p;
  // in_out: a warp's lanes take one 16-byte pack of consecutive columns each, the block's 8 warps
  // share out the K rows. out_in: each of the 8 warps takes 2 columns of each group of 16, its
  // lanes a pack of K each.
  // out_in with many tiles (the LM head: 3142 of 16 columns) gives each block up to 8 groups of
  // 16 columns, which shares one prologue (the row statistics) among more weight bytes.
  p.tile_cols = 32 * pack;
  if (!w_in_out) {
    const int groups = ceil_div(N, 16) / (2 * kLnGemvTargetBlocks);
    p.tile_cols = 16 * std::clamp(groups, 1, 8);
  }
  const int min_chunk = w_in_out ? 64 : 32 * pack;  // a few loads per thread at least
  p.tiles = ceil_div(N, p.tile_cols);
  int splits = std::min(ceil_div(kLnGemvTargetBlocks, p.tiles), std::max(1, K / min_chunk));
  splits = std::max(splits, ceil_div(K, kLnGemvMaxChunk));
  p.chunk = ceil_div(ceil_div(K, splits), pack) * pack;
  p.splits = ceil_div(K, p.chunk);
  p.rows_per_pass = B > 1 ? kLnGemvOnePassRows : 1;
  const std::size_t rows = static_cast<std::size_t>(p.rows_per_pass);
  const std::size_t xs = rows * static_cast<std::size_t>(p.chunk) * sizeof(float);
  // in_out: the 8 warps' partial sums replace xs; out_in: the finished sums follow it.
  const std::size_t sums = rows * static_cast<std::size_t>(p.tile_cols) * sizeof(float);
  p.smem_bytes = w_in_out ? std::max(xs, 8 * sums) : xs + sums;
  return p;
}

bool ln_gemv_argmax_fits(int B, int K, int N, DType dtype, bool w_in_out) {
  return !w_in_out && ln_gemv_plan(B, K, N, dtype, w_in_out).splits == 1;
}

std::size_t ln_gemv_workspace_bytes(int B, int K, int N, DType dtype, bool w_in_out) {
  const LnGemvPlan p = ln_gemv_plan(B, K, N, dtype, w_in_out);
  if (p.splits == 1) return 0;
  return static_cast<std::size_t>(p.splits) * static_cast<std::size_t>(B) *
         static_cast<std::size_t>(N) * sizeof(float);
}

void ln_gemv_cpu(float* out, const float* x, const float* gamma, const float* beta, const float* w,
                 const float* bias, int B, int K, int N, float eps, bool w_in_out, int ld_out,
                 const LnGemvEpilogue& epi) {
  if (ld_out == 0) ld_out = N;
  CUGPT_CHECK(B >= 0 && K > 0 && N > 0 && ld_out >= N, "ln_gemv: bad sizes");
  std::vector<float> ln(static_cast<std::size_t>(K));
  std::vector<double> acc(static_cast<std::size_t>(N));
  for (int b = 0; b < B; ++b) {
    // The LayerNorm exactly as the unfused path computes it.
    layernorm_forward_cpu(ln.data(), nullptr, nullptr, x + static_cast<std::size_t>(b) * K, gamma,
                          beta, 1, K, eps);
    // The product in double, in k order, rounded once (no f32 accumulation error).
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int k = 0; k < K; ++k) {
      const double l = ln[k];
      for (int n = 0; n < N; ++n) {
        const float wv = w_in_out ? w[static_cast<std::size_t>(k) * N + n]
                                  : w[static_cast<std::size_t>(n) * K + k];
        acc[n] += l * wv;
      }
    }
    std::vector<float> o(static_cast<std::size_t>(N));
    for (int n = 0; n < N; ++n) o[n] = static_cast<float>(acc[n] + (bias ? bias[n] : 0.0));
    if (epi.act) activation_forward_cpu(o.data(), o.data(), o.size(), *epi.act);
    if (epi.argmax_keys) {
      max_order_keys_cpu(epi.argmax_keys + b, o.data(), 1, N, N);
    } else {
      std::copy(o.begin(), o.end(), out + static_cast<std::size_t>(b) * ld_out);
    }
  }
}

}  // namespace cugpt::kernels
