// The per-device halves of nn/ops: ops.cpp checks shapes and allocates outputs, then calls the
// cpu_ or cuda_ function here for the tensors' device (meta runs neither). Internal to nn/.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/activation.h"
#include "nn/ops.h"

namespace cugpt::ops::backend {

// cpu: Eigen kernels in f32 or f64 (any other dtype is an error).
void cpu_linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor* bias, bool w_in_out);
void cpu_layernorm(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& b, double eps);
void cpu_activation(Tensor& out, const Tensor& x, kernels::Activation act);
void cpu_add(Tensor& out, const Tensor& a, const Tensor& b);
void cpu_embedding(Tensor& out, const Tensor& tokens, const Tensor& positions, const Tensor& wte,
                   const Tensor& wpe, const Tensor* wtt);
void cpu_attention(Tensor& out, Tensor* probs, const AttentionInputs& in, std::int64_t H,
                   bool causal, const Tensor* key_mask);
void cpu_attention_decode(Tensor& out, const Tensor& q, std::int64_t q_col, const Tensor& k,
                          const Tensor& v, std::int64_t past, std::int64_t H);

// Whether the activation runs inside the GEMM's epilogue (cuBLASLt has relu and gelu_tanh);
// the cpu applies those in place, so both devices allocate the same tensors.
bool fusable_in_gemm(kernels::Activation act);

// cuda: hand-written kernels and cuBLASLt in f32, bf16 or f16.
void cuda_linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor* bias, bool w_in_out,
                 const kernels::Activation* act, Tensor& workspace);
void cuda_layernorm(Tensor& out, Tensor* sum, const Tensor& x, const Tensor* residual,
                    const Tensor& w, const Tensor& b, double eps);
void cuda_activation(Tensor& out, const Tensor& x, kernels::Activation act);
void cuda_add(Tensor& out, const Tensor& a, const Tensor& b);
void cuda_embedding(Tensor& out, const Tensor& tokens, const Tensor& positions, const Tensor& wte,
                    const Tensor& wpe, const Tensor* wtt);
void cuda_attention(Tensor& out, const AttentionInputs& in, std::int64_t H, bool causal,
                    const Tensor* key_mask);
void cuda_attention_decode(Tensor& out, const Tensor& q, std::int64_t q_col, const Tensor& k,
                           const Tensor& v, std::int64_t past, std::int64_t H);

// Byte-level helpers shared by both devices.
void copy_rows(Tensor& dst, std::size_t dst_offset, std::size_t dst_pitch, const Tensor& src,
               std::size_t src_offset, std::size_t src_pitch, std::size_t row_bytes,
               std::size_t rows);

int as_int(std::int64_t v, const char* what);

}  // namespace cugpt::ops::backend
