// Fused LayerNorm + M=1 product for decode: for each of B rows x (K),
//   out[b, n] = sum_k LN(x[b])[k] * W[k, n] (+ bias[n]),  LN(x) = (x - mean) * rstd * gamma + beta
// with mean and rstd (biased variance, eps) over the row, as kernels/layernorm.h computes them.
// W is a Linear weight in either layout of kernels/matmul.h: [N, K] (out_in, PyTorch Linear:
// Day-18's projections and GPT-2's tied LM head) or, with w_in_out, [K, N] (GPT-2's Conv1D:
// c_attn, c_fc). Decode-sized: B is small (1 for one sequence; any B works, but past
// kLnGemvOnePassRows the weights are read once per pass, below).
// The CUDA kernel keeps the normalised row in f32 (shared memory): the unfused path rounds it
// to the dtype between the two kernels, so the fused result is at least as close to the f32
// reference.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/activation.h"
#include "kernels/dtype.h"
#include "kernels/runtime.h"

namespace cugpt::kernels {

// How the CUDA kernel splits the work, a pure function of the sizes (not of the device, so that
// the bits and the workspace are the same on every GPU, and a CUDA graph can capture it):
// output columns in tiles of tile_cols, one block per (tile, K chunk); when the tiles alone would
// give fewer than kLnGemvTargetBlocks blocks, K is split into `splits` chunks of `chunk`
// elements (a multiple of a 16-byte pack) whose f32 partial sums go to the workspace and are
// added in chunk order by a second kernel (no atomics: bit-reproducible). Rows are taken
// rows_per_pass at a time inside each block (the weight tile is read once per pass).
// Rows at most in one pass (rows_per_pass): a block streams its weight tile once per pass, so
// with more rows than this the weights are read again (from L2 at best: the head's tiles of a
// 16-SM card's resident blocks exceed a 2 MiB L2), and a GEMM, which reads them once for any
// row count, is the better kernel (ops::ln_linear switches to it).
constexpr int kLnGemvOnePassRows = 4;
constexpr int kLnGemvTargetBlocks = 256;  // about two blocks per SM on a 132-SM H100
constexpr int kLnGemvMaxChunk = 2048;     // f32 normalised values in shared memory, per row
struct LnGemvPlan {
  int tile_cols = 0, tiles = 0;
  int splits = 1, chunk = 0;
  int rows_per_pass = 1;
  std::size_t smem_bytes = 0;  // dynamic shared memory per block, at most 48 KiB
};
LnGemvPlan ln_gemv_plan(int B, int K, int N, DType dtype, bool w_in_out);

// What happens to each output after the sum and the bias, before it is stored.
//   act: the activation applied in f32, then rounded once (GPT-2's c_fc with ln_2 folded in).
//   argmax_keys: B order keys (kernels/sampling.h, sampling_rule::order_key of the output
//     rounded to the dtype, id = column): each row's key becomes max(key, the row's largest),
//     and the outputs are not stored (out may be null). A greedy pick fused into the LM head:
//     the ids are the device sampler's greedy ids for the logits the plain op would store.
//     Keys start at 0 (below every real key) and are the caller's to reset. cuda: only for out_in
//     weights (the LM head's layout) whose plan does not split K (ln_gemv_argmax_fits).
struct LnGemvEpilogue {
  const Activation* act = nullptr;
  std::uint64_t* argmax_keys = nullptr;
};
bool ln_gemv_argmax_fits(int B, int K, int N, DType dtype, bool w_in_out);

// Bytes of f32 partials the CUDA kernel needs (splits * B * N floats; 0 when K is not split).
std::size_t ln_gemv_workspace_bytes(int B, int K, int N, DType dtype, bool w_in_out);

// cpu reference (f32, the oracle): the LayerNorm exactly as layernorm_forward_cpu computes it
// (double statistics, an f32 normalised value), then each output as a double sum over k,
// rounded once, then epi.act in f32. x (B, K); gamma, beta (K); w [N, K] or [K, N]; bias (N) or
// nullptr; out (B, ld), ld >= N (0 means N), only the first N columns of a row written (not at
// all with epi.argmax_keys, host memory then).
void ln_gemv_cpu(float* out, const float* x, const float* gamma, const float* beta, const float* w,
                 const float* bias, int B, int K, int N, float eps, bool w_in_out, int ld_out = 0,
                 const LnGemvEpilogue& epi = {});

// The weights of one fused product: one matrix, or (out_in only) up to kLnGemvMaxParts matrices
// [N / parts, K] side by side, whose outputs fill consecutive column ranges of each row — the
// Day-18 model's separate q, k and v projections as one product (one launch, one LayerNorm);
// a bias per part, or nullptr.
constexpr int kLnGemvMaxParts = 3;
struct LnGemvWeights {
  const void* w[kLnGemvMaxParts] = {};
  const void* bias[kLnGemvMaxParts] = {};
  int parts = 1;
};

// CUDA: every tensor in `dtype` (f32, bf16 or f16), f32 statistics and accumulation, the output
// rounded once. out must not overlap x. workspace: at least ln_gemv_workspace_bytes(...) bytes of
// device memory (nullptr when that is 0). No allocation, no host synchronisation; one launch, or
// two when K is split. 16-byte weight loads when w is 16-byte aligned and the contiguous
// dimension (K for out_in, N for in_out) is a whole number of packs; element loads otherwise.
void ln_gemv_cuda(void* out, const void* x, const void* gamma, const void* beta, const void* w,
                  const void* bias, int B, int K, int N, float eps, bool w_in_out, DType dtype,
                  void* workspace, std::size_t workspace_bytes, Stream stream, int ld_out = 0,
                  const LnGemvEpilogue& epi = {});
// The same over LnGemvWeights (N: all parts' columns); its plan and workspace are those of one
// [N, K] matrix.
void ln_gemv_parts_cuda(void* out, const void* x, const void* gamma, const void* beta,
                        const LnGemvWeights& w, int B, int K, int N, float eps, bool w_in_out,
                        DType dtype, void* workspace, std::size_t workspace_bytes, Stream stream,
                        int ld_out = 0, const LnGemvEpilogue& epi = {});

}  // namespace cugpt::kernels
