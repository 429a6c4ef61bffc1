// attention: multi-head scaled dot-product attention, causal or bidirectional, with an optional
// key padding mask. Q, K and V are read in place from (B, T, row_stride) buffers with head h at
// columns [h*D, (h+1)*D): a fused QKV projection (row_stride 3C, k = q + C, v = q + 2C) and
// separate q/k/v projections (row_stride C) both work without a copy.
#pragma once

#include "kernels/dtype.h"
#include "kernels/runtime.h"

#include <cstddef>
#include <cstdint>

namespace cugpt::kernels {

template <typename Real>
struct AttentionArgs {
  int B = 0, T = 0, H = 0, D = 0;
  const Real* q = nullptr;
  const Real* k = nullptr;
  const Real* v = nullptr;
  int row_stride = 0;   // elements between consecutive tokens of q, k and v
  Real* out = nullptr;  // (B, T, H*D)
  bool causal = false;
  // (B, T): 1 = attend, 0 = padding (masked as a key). nullptr: no padding.
  const std::int32_t* key_mask = nullptr;
  Real scale = 0;  // usually 1/sqrt(D)
  // (B, H, T, T) softmax probabilities, written when non-null (hooks, tests). Masked entries 0.
  Real* probs = nullptr;
};

// A query row whose keys are all masked produces zeros (and a zero probability row).
void attention_forward_cpu(const AttentionArgs<float>& a);
void attention_forward_cpu(const AttentionArgs<double>& a);

// backward (cpu). The probabilities are recomputed from q and k, one query row at a time, as
// flash attention does: no saved T x T matrix. dq, dk and dv have the layout of q, k and v (same
// row_stride; for a fused QKV input they point into one (B, T, 3C) gradient buffer) and are
// written: the kernel zeroes each head's columns itself and touches no other column. Masked and
// future keys get no gradient; a query row whose keys are all masked gives zero gradients.
template <typename Real>
struct AttentionBackwardArgs {
  int B = 0, T = 0, H = 0, D = 0;
  const Real* q = nullptr;
  const Real* k = nullptr;
  const Real* v = nullptr;
  int row_stride = 0;          // elements between consecutive tokens of q, k, v, dq, dk and dv
  const Real* dout = nullptr;  // (B, T, H*D)
  Real* dq = nullptr;
  Real* dk = nullptr;
  Real* dv = nullptr;
  bool causal = false;
  const std::int32_t* key_mask = nullptr;  // (B, T) as in AttentionArgs
  Real scale = 0;
};
void attention_backward_cpu(const AttentionBackwardArgs<float>& a);
void attention_backward_cpu(const AttentionBackwardArgs<double>& a);

// CUDA: flash-attention style (tiled over keys, online softmax, no T x T matrix in device
// memory). q, k, v, out in dtype (f32, bf16, f16), f32 accumulation; key_mask a device pointer.
// Head dims 32, 64, 80, 96 and 128. probs is not supported here (nullptr): the fused kernel never
// materialises the probabilities.
// Which CUDA attention kernels run (docs/attention-kernel.md, "v1 and v2"): v1, the kernels
// measured on the H100 (attention.cu, attention_backward.cu), or v2, FlashAttention-2 class
// (attention_fa2.cu, attention_backward_fa2.cu). from_env: CUGPT_ATTENTION=v1|v2, read once per
// process (unset: v1). v2 covers bf16/f16, head dims 32, 64, 80, 128 with 16-byte aligned
// buffers and row strides a multiple of 8; anything else runs v1 whatever the choice.
enum class AttentionKernel { from_env, v1, v2 };
// "v1", "v2", or null/empty (v1); anything else throws cugpt::Error naming the variable.
AttentionKernel parse_attention_kernel(const char* value);
AttentionKernel attention_kernel_from_env();

struct AttentionCudaArgs {
  int B = 0, T = 0, H = 0, D = 0;
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  int row_stride = 0;
  void* out = nullptr;  // (B, T, H*D), row stride H*D
  bool causal = false;
  const std::int32_t* key_mask = nullptr;
  float scale = 0;
  DType dtype = DType::f32;
  AttentionKernel kernel = AttentionKernel::from_env;
  // (B, H, T) f32: each query row's natural-log log-sum-exp of its scaled scores (-inf for a row
  // with no visible key), written when non-null. Only v2 writes it: with lse set, a call that
  // would run v1 throws (check attention_fa2_supported first).
  float* lse = nullptr;
};
// The shapes, dtypes and alignments the v2 kernels take (forward and backward alike).
bool attention_fa2_supported(const AttentionCudaArgs& a);
// v2 directly, whatever CUGPT_ATTENTION says (throws for what it does not support).
void attention_forward_fa2_cuda(const AttentionCudaArgs& a, Stream stream);
void attention_forward_cuda(const AttentionCudaArgs& a, Stream stream);

// CUDA backward, flash style: no T x T matrix in device memory, f32 accumulation, dtypes f32,
// bf16 and f16, any head dim up to 128 (tiled for 32, 64, 80, 96, 128; others padded). The forward
// keeps no statistics, so a first pass recomputes, per query row, the log-sum-exp of its scores and
// D_i = dout_i . out_i into `workspace`; then one pass per key tile writes dk and dv (looping over
// the query rows), and one pass per query tile writes dq (looping over the key tiles). Every
// gradient row is owned by one block: no atomics, bit-reproducible. Semantics as
// attention_backward_cpu (only this head's columns of dq, dk and dv are written; masked keys and
// fully masked rows get zeros).
struct AttentionBackwardCudaArgs {
  int B = 0, T = 0, H = 0, D = 0;
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  int row_stride = 0;          // of q, k, v, dq, dk and dv
  const void* dout = nullptr;  // (B, T, H*D)
  void* dq = nullptr;
  void* dk = nullptr;
  void* dv = nullptr;
  bool causal = false;
  const std::int32_t* key_mask = nullptr;  // device (B, T) or nullptr
  float scale = 0;
  DType dtype = DType::f32;
  float* workspace = nullptr;  // attention_backward_workspace_floats(B, H, T) floats
  AttentionKernel kernel = AttentionKernel::from_env;
  // v2 only, optional: the forward's output (B, T, H*D) and its saved lse (AttentionCudaArgs).
  // Both given: the row statistics come from them in one cheap pass; otherwise v2 recomputes
  // them (a forward-like pass over the keys). v1 ignores both.
  const void* out = nullptr;
  const float* lse = nullptr;
};
inline std::size_t attention_backward_workspace_floats(int B, int H, int T) {
  return 2 * static_cast<std::size_t>(B) * static_cast<std::size_t>(H) *
         static_cast<std::size_t>(T);
}
void attention_backward_cuda(const AttentionBackwardCudaArgs& a, Stream stream);
// v2 directly (tensor cores, see attention_backward_fa2.cu); dq, dk, dv and dout must also be
// 16-byte aligned with the row strides of q and of out a multiple of 8.
bool attention_backward_fa2_supported(const AttentionBackwardCudaArgs& a);
void attention_backward_fa2_cuda(const AttentionBackwardCudaArgs& a, Stream stream);

}  // namespace cugpt::kernels
