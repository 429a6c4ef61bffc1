// The CUDA kernels' entry points in a build with CUGPT_CUDA=OFF: each says the build has no
// CUDA. Everything links in both configurations, so the GPU tests build everywhere and skip
// (with the reason) where no device can be used.
#include "kernels/activation.h"
#include "kernels/adamw.h"
#include "kernels/attention.h"
#include "kernels/attention_decode.h"
#include "kernels/copy_rows.h"
#include "kernels/cross_entropy.h"
#include "kernels/decode_state.h"
#include "kernels/embedding.h"
#include "kernels/error.h"
#include "kernels/fill.h"
#include "kernels/layernorm.h"
#include "kernels/ln_gemv.h"
#include "kernels/matmul.h"
#include "kernels/rank_sum.h"
#include "kernels/residual.h"
#include "kernels/sampling.h"

namespace cugpt::kernels {

namespace {
[[noreturn]] void no_cuda(const char* op) {
  throw Error(std::string(op) + ": cugpt was built without CUDA (CUGPT_CUDA=OFF)");
}
}  // namespace

void fill_cuda(void*, std::size_t, std::size_t, std::uint64_t, Stream) {
  no_cuda("fill");
}
void embedding_forward_cuda(const EmbeddingArgs&, void*, const void*, const void*, const void*,
                            DType, Stream) {
  no_cuda("embedding");
}
void layernorm_forward_cuda(void*, float*, float*, const void*, const void*, const void*, int, int,
                            float, DType, Stream) {
  no_cuda("layernorm");
}
void layernorm_residual_forward_cuda(void*, void*, float*, float*, const void*, const void*,
                                     const void*, const void*, int, int, float, DType, Stream) {
  no_cuda("layernorm");
}
void ln_gemv_cuda(void*, const void*, const void*, const void*, const void*, const void*, int, int,
                  int, float, bool, DType, void*, std::size_t, Stream, int, const LnGemvEpilogue&) {
  no_cuda("ln_gemv");
}
void ln_gemv_parts_cuda(void*, const void*, const void*, const void*, const LnGemvWeights&, int,
                        int, int, float, bool, DType, void*, std::size_t, Stream, int,
                        const LnGemvEpilogue&) {
  no_cuda("ln_gemv");
}
void activation_forward_cuda(void*, const void*, std::size_t, Activation, DType, Stream) {
  no_cuda("activation");
}
void residual_forward_cuda(void*, const void*, const void*, std::size_t, DType, Stream) {
  no_cuda("residual");
}
void matmul_forward_cuda(void*, const void*, const void*, const void*, int, int, int, bool,
                         Epilogue, DType, MatmulWorkspace, Stream, int, const void*) {
  no_cuda("matmul");
}
void attention_forward_cuda(const AttentionCudaArgs&, Stream) {
  no_cuda("attention");
}
AttentionKernel parse_attention_kernel(const char*) {
  no_cuda("attention");
}
AttentionKernel attention_kernel_from_env() {
  no_cuda("attention");
}
bool attention_fa2_supported(const AttentionCudaArgs&) {
  no_cuda("attention");
}
void attention_forward_fa2_cuda(const AttentionCudaArgs&, Stream) {
  no_cuda("attention");
}
bool attention_backward_fa2_supported(const AttentionBackwardCudaArgs&) {
  no_cuda("attention_backward");
}
void attention_backward_fa2_cuda(const AttentionBackwardCudaArgs&, Stream) {
  no_cuda("attention_backward");
}
void attention_decode_cuda(const DecodeCudaArgs&, Stream) {
  no_cuda("attention_decode");
}
void copy_rows_cuda(void*, std::size_t, const void*, std::size_t, std::size_t, std::size_t,
                    Stream) {
  no_cuda("copy_rows");
}
void cache_write_cuda(const CacheWriteArgs&, Stream) {
  no_cuda("cache_write");
}
void advance_positions_cuda(std::int32_t*, int, int, Stream) {
  no_cuda("advance_positions");
}
void argmax_ids_cuda(std::int32_t*, std::uint64_t*, int, int, Stream) {
  no_cuda("argmax_ids");
}
void sample_tokens_cuda(const SamplingArgs&, Stream) {
  no_cuda("sample_tokens");
}

// Training (backward kernels and optimizer updates).
void matmul_backward_cuda(void*, void*, void*, const void*, const void*, const void*, int, int, int,
                          bool, DType, MatmulWorkspace, Stream, int) {
  no_cuda("matmul_backward");
}
void layernorm_backward_cuda(void*, void*, void*, const void*, const void*, const void*,
                             const float*, const float*, int, int, float*, DType, Stream) {
  no_cuda("layernorm_backward");
}
void activation_backward_cuda(void*, const void*, const void*, std::size_t, Activation, DType,
                              Stream) {
  no_cuda("activation_backward");
}
void attention_backward_cuda(const AttentionBackwardCudaArgs&, Stream) {
  no_cuda("attention_backward");
}
void embedding_backward_cuda(const void*, int, void*, const EmbeddingGradGroups&, DType, Stream) {
  no_cuda("embedding_backward");
}
void cross_entropy_forward_backward_cuda(float*, void*, const void*, const std::int32_t*, int, int,
                                         int, float, DType, Stream, int) {
  no_cuda("cross_entropy");
}
void adamw_step_cuda(void*, const void*, float*, float*, float*, std::size_t, const AdamwHyper&,
                     DType, Stream) {
  no_cuda("adamw");
}
void sgd_step_cuda(void*, const void*, float*, float*, std::size_t, float, float, float, float,
                   DType, Stream) {
  no_cuda("sgd");
}
void copy_to_master_cuda(float*, const void*, std::size_t, DType, Stream) {
  no_cuda("copy_to_master");
}
void sum_squares_cuda(const void*, std::size_t, DType, double*, double*, Stream) {
  no_cuda("sum_squares");
}

void rank_sum_cuda(const void*, int, std::size_t, void*, DType, Stream) {
  no_cuda("rank_sum");
}

}  // namespace cugpt::kernels
