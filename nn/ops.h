// Tensor-level ops: check shapes, allocate the output from the input's arena (category
// activation), and run the kernel for the device — Eigen on cpu (f32, f64), nothing on meta
// (the allocation is the point there). Outputs take the input's dtype.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/activation.h"
#include "nn/tensor.h"

namespace cugpt::ops {

// x (..., IC) times a Linear weight [OC, IC] (or [IC, OC] with w_in_out) plus bias (OC).
// pitch > OC gives an output (..., pitch) whose rows hold the OC results followed by pitch - OC
// padding columns that nothing writes (the head's logits, padded so that every row is 16-byte
// aligned for cuBLASLt); 0 means OC.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor* bias, bool w_in_out,
              std::int64_t pitch = 0);
// residual + linear(x, w, bias) as one op: on cuda the sum is made inside the GEMM (cuBLASLt's
// beta = 1), on the cpu by the add after it (the same bits as linear then add). residual has
// the output's shape.
Tensor linear_add(const Tensor& x, const Tensor& w, const Tensor* bias, bool w_in_out,
                  const Tensor& residual);
// linear then act; on cuda ReLU and GELU-tanh run inside the GEMM's epilogue.
Tensor linear_act(const Tensor& x, const Tensor& w, const Tensor* bias, bool w_in_out,
                  kernels::Activation act);
// LayerNorm over the last dimension.
Tensor layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);
// A fused product's weights: one Linear weight (and bias), or up to three out_in [Np, K] ones
// side by side, whose outputs fill consecutive column ranges (Day-18's q, k and v).
struct LinearParts {
  const Tensor* w[3] = {};
  const Tensor* bias[3] = {};
  int count = 0;
};
// LayerNorm(x) (weight, bias, eps over the last dimension) times a Linear weight (+ bias) as
// one op: the fused decode kernel on cuda (kernels/ln_gemv.h: the normalised row kept in f32,
// so the result differs from layernorm then linear by about the dtype's rounding), on the cpu
// those two kernels (the same bits as the unfused ops). Over kernels::kLnGemvOnePassRows (4)
// rows it is those two ops on every device: the fused kernel reads its weights once only for
// the rows of one pass, the GEMM for any number.
// With act, the activation follows in the same op (the fused kernel's epilogue on cuda;
// linear_act's cpu kernels, the same bits, on the cpu).
Tensor ln_linear(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                 const Tensor& w, const Tensor* w_bias, bool w_in_out,
                 const kernels::Activation* act = nullptr);
// ln_linear over parts.count out_in weights side by side: out (..., count x Np), part p's
// outputs in columns [p Np, (p + 1) Np). At most kernels::kLnGemvOnePassRows rows (an Error
// above). On cuda one launch (kernels/ln_gemv.h's LnGemvWeights); on the cpu the LayerNorm
// then each part's product into its columns: the unfused ops' bits.
Tensor ln_linear_parts(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                       const LinearParts& parts);
// The LM head with the greedy pick fused in (kernels/ln_gemv.h's argmax epilogue): instead of
// the logits ln_linear would return, each row's order key (kernels/sampling.h) goes into keys
// (2 x rows i32 holding rows u64, 0 before the first product; argmax_ids reads and resets them).
// cuda never stores the logits; the cpu forms them in scratch (ln_linear's bits) and takes their
// keys, so the ids are the device sampler's greedy ids on every device. Only where
// ln_linear_argmax_fits (rows x K inputs, N outputs: at most 4 rows, f32/bf16/f16, K not
// split), a pure function of the sizes and dtype; elsewhere an Error.
bool ln_linear_argmax_fits(std::int64_t rows, std::int64_t K, std::int64_t N, DType dtype,
                           bool w_in_out);
void ln_linear_argmax(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                      const Tensor& w, const Tensor* w_bias, bool w_in_out, Tensor& keys);
// ids (B i32) = the greedy ids of keys (2B i32, the B u64 keys of ln_linear_argmax over V
// columns), and the keys back to 0.
void argmax_ids(Tensor& ids, Tensor& keys, std::int64_t V);
Tensor activation(const Tensor& x, kernels::Activation act);
Tensor add(const Tensor& a, const Tensor& b);
// sum = x + r and LayerNorm(sum) together (one kernel on cuda): the residual stream and the
// next sublayer's input.
struct AddNorm {
  Tensor sum, normed;
};
AddNorm add_layernorm(const Tensor& x, const Tensor& r, const Tensor& weight, const Tensor& bias,
                      double eps);

// out (B, T, C) = wte[tokens] + wpe[positions] (+ wtt[0]). tokens, positions: B*T host ids,
// already validated against the tables.
Tensor embedding(const std::vector<std::int32_t>& tokens,
                 const std::vector<std::int32_t>& positions, std::int64_t B, std::int64_t T,
                 const Tensor& wte, const Tensor& wpe, const Tensor* wtt);

// The same from ids already on wte's device: tokens, positions (i32, at least B*T each; not
// validated against the tables, which the host cannot do without a copy: the caller's
// contract, kept by a decode step that writes ids the sampler drew and positions below t_max).
Tensor embedding(const Tensor& tokens, const Tensor& positions, std::int64_t B, std::int64_t T,
                 const Tensor& wte, const Tensor& wpe, const Tensor* wtt);

// Multi-head attention. q, k and v are (B, T, W) tensors (possibly the same fused buffer);
// the head inputs start at columns q_col, k_col, v_col and span C = H * D columns.
struct AttentionInputs {
  const Tensor* q;
  std::int64_t q_col;
  const Tensor* k;
  std::int64_t k_col;
  const Tensor* v;
  std::int64_t v_col;
};
// Returns (B, T, C). key_mask: B*T host flags (1 attend, 0 padding) or nullptr. When probs is
// non-null it receives the (B, H, T, T) softmax probabilities.
Tensor attention(const AttentionInputs& in, std::int64_t C, std::int64_t H, bool causal,
                 const std::vector<std::int32_t>* key_mask, Tensor* probs = nullptr);

// The (B, H, T, T) probabilities of that attention, recomputed on the host in f32 from q and k
// on any device with values (hooks use it where the fused CUDA kernel keeps none).
std::vector<float> attention_probs_host(const AttentionInputs& in, std::int64_t C, std::int64_t H,
                                        bool causal, const std::vector<std::int32_t>* key_mask);

// The last position of x (B, T, C): (B, 1, C).
Tensor last_position(const Tensor& x);

// Rows [begin, begin + count) of x taken as (rows, C), C its last dimension: a new (count, C)
// tensor. write_rows puts src (count, C) back at row `begin` of dst.
Tensor rows(const Tensor& x, std::int64_t begin, std::int64_t count);
void write_rows(Tensor& dst, std::int64_t begin, const Tensor& src);

// Writes the columns [col, col + C) of src (B, Tq, W) into rows [past, past + Tq) of the cache
// tensor (B, t_max, C).
void write_cache(Tensor& cache, std::int64_t past, const Tensor& src, std::int64_t col);

// The same at the cached length the device holds in past[0] (i32 on the cache's device): a
// decode step with no host in it (kernels/decode_state.h). Rows beyond t_max are not written.
void write_cache_at(Tensor& cache, const Tensor& past, const Tensor& src, std::int64_t col);
// positions (i32) += delta, on their device.
void advance_positions(Tensor& positions, std::int32_t delta);

// A decode step's new key and value: columns [k_col, k_col + C) of k and [v_col, v_col + C) of
// v, (B, 1, W) each (one fused QKV buffer or two tensors).
struct NewKv {
  const Tensor* k;
  std::int64_t k_col;
  const Tensor* v;
  std::int64_t v_col;
};

// Causal attention of the queries q (B, Tq, W) at columns [q_col, q_col + C), positions
// [past, past + Tq), against the first past + Tq rows of the caches (B, t_max, C). With
// past_device (one i32 on q's device) the length the device holds replaces `past`, which then
// only bounds the host checks.
Tensor attention_decode(const Tensor& q, std::int64_t q_col, const Tensor& k_cache,
                        const Tensor& v_cache, std::int64_t past, std::int64_t H,
                        const Tensor* past_device = nullptr);
// One query per row (Tq = 1) at the length past_device holds: writes the new key and value into
// the caches there, then attends — write_cache_at twice and attention_decode as one op (one
// kernel on cuda; on the cpu those ops' kernels, the same bits). past: the host's mirror.
Tensor attention_decode_writing(Tensor& k_cache, Tensor& v_cache, const NewKv& new_kv,
                                const Tensor& q, std::int64_t q_col, std::int64_t past,
                                const Tensor& past_device, std::int64_t H);

}  // namespace cugpt::ops
