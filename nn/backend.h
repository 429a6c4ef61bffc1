// The one dispatch point: every op a device computes, forward, backward and optimizer updates
// alike. nn/ops, nn/ops_backward and nn/optimizer check shapes, allocate every output and
// workspace (the same tensors on every device, so a meta run predicts the others byte for
// byte), then call the backend of the tensors' device; the cpu backend (Eigen, f32 and f64) and
// the cuda backend (kernels/cuda, f32, bf16 and f16) only compute. meta has no backend. Internal
// to nn/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/activation.h"
#include "kernels/adamw.h"
#include "kernels/sampling.h"
#include "nn/ops.h"
#include "nn/ops_backward.h"

namespace cugpt {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* device_name() const = 0;  // "cpu", "cuda"
  virtual const char* dtypes() const = 0;       // what it computes in, for messages
  virtual bool computes(DType t) const = 0;

  // ---- Forward (nn/ops). Every tensor is allocated; the backend writes the outputs.
  // out = x w (+ bias); with `act` the activation is applied too (on cuda in the GEMM's
  // epilogue). workspace: kernels::kMatmulWorkspaceBytes. out's last dimension may exceed the
  // weight's OC (a row pitch, the padded logits): only its first OC columns are written. With
  // `residual` (out's shape, no act, no pitch) out = x w (+ bias) + residual (on cuda in the GEMM).
  virtual void linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor* bias,
                      bool w_in_out, const kernels::Activation* act, Tensor& workspace,
                      const Tensor* residual = nullptr) const = 0;
  // mean and rstd (N, f32 or f64 beside f64) when the backward needs them, else null.
  virtual void layernorm(Tensor& out, Tensor* mean, Tensor* rstd, const Tensor& x, const Tensor& w,
                         const Tensor& b, double eps) const = 0;
  virtual void add_layernorm(Tensor& sum, Tensor& normed, const Tensor& x, const Tensor& r,
                             const Tensor& w, const Tensor& b, double eps) const = 0;
  // out (rows, OC) = act(LayerNorm(x) w (+ bias)) in one op (kernels/ln_gemv.h; decode-sized
  // rows; act may be null), w one weight or several out_in ones side by side (ops::LinearParts).
  // workspace: ops::ln_linear's (the normalised rows on the cpu, the K-split partials on cuda).
  // argmax_keys (ops::ln_linear_argmax): the rows' order keys take the outputs' max instead of
  // out (cuda leaves out unwritten; the cpu uses it as scratch).
  virtual void ln_linear(Tensor& out, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                         double eps, const ops::LinearParts& w, bool w_in_out, Tensor& workspace,
                         const kernels::Activation* act, Tensor* argmax_keys) const = 0;
  virtual void activation(Tensor& out, const Tensor& x, kernels::Activation act) const = 0;
  virtual void add(Tensor& out, const Tensor& a, const Tensor& b) const = 0;
  // tokens, positions: i32 ids on the device.
  virtual void embedding(Tensor& out, const Tensor& tokens, const Tensor& positions,
                         const Tensor& wte, const Tensor& wpe, const Tensor* wtt) const = 0;
  // mask: B*T i32 flags on the device, or null; probs (cpu only) or null.
  virtual void attention(Tensor& out, Tensor* probs, const ops::AttentionInputs& in, std::int64_t H,
                         bool causal, const Tensor* mask) const = 0;
  // past_device: null, or one i32 on the device holding the cached length, which then replaces
  // `past` (read by the kernel: a captured decode step, kernels/decode_state.h). new_kv (with
  // past_device, Tq = 1): the new key and value are first written into k and v at that length.
  virtual void attention_decode(Tensor& out, const Tensor& q, std::int64_t q_col, const Tensor& k,
                                const Tensor& v, std::int64_t past, const Tensor* past_device,
                                std::int64_t H, const ops::NewKv* new_kv) const = 0;
  // The columns [col, col + C) of src (B, Tq, W) into the cache (B, t_max, C) at the length
  // past_device holds; positions[i] += delta.
  virtual void cache_write(Tensor& cache, const Tensor& src, std::int64_t col,
                           const Tensor& past_device) const = 0;
  virtual void advance_positions(Tensor& positions, std::int32_t delta) const = 0;
  // A strided 2-D copy of device bytes.
  virtual void copy_rows(void* dst, std::size_t dst_pitch, const void* src, std::size_t src_pitch,
                         std::size_t row_bytes, std::size_t rows) const = 0;

  // ---- Backward (nn/ops_backward). Parameter gradients accumulate; dx is written. dout's last
  // dimension may exceed the weight's OC (a row pitch): only its first OC columns are read.
  virtual void linear_backward(Tensor* dx, Tensor* dw, Tensor* db, const Tensor& dout,
                               const Tensor& x, const Tensor& w, bool w_in_out,
                               Tensor& workspace) const = 0;
  virtual void layernorm_backward(Tensor& dx, Tensor& dweight, Tensor& dbias, const Tensor& dout,
                                  const Tensor& x, const Tensor& weight, const Tensor& mean,
                                  const Tensor& rstd, Tensor& workspace) const = 0;
  virtual void activation_backward(Tensor& dx, const Tensor& dout, const Tensor& x,
                                   kernels::Activation act) const = 0;
  virtual void attention_backward(const Tensor& dout, const ops::AttentionInputs& in,
                                  const ops::AttentionGrads& grads, std::int64_t H, bool causal,
                                  const Tensor* mask, Tensor& workspace) const = 0;
  // groups: the cuda scatter-add's row groups (kernels::embedding_groups_ints per table).
  virtual void embedding_backward(const Tensor& dout, const std::vector<std::int32_t>& tokens,
                                  const std::vector<std::int32_t>& positions, Tensor& dwte,
                                  Tensor& dwpe, Tensor* dwtt, Tensor& groups) const = 0;
  // The sum of the per-row losses (written into `losses`, N); with `grad`, d(loss)/d(logits)
  // times scale. targets on the host, device_targets the same ids on the device. The first
  // `vocab` columns of each row are the logits; the rest of the row (its pitch) is padding,
  // neither read nor written.
  virtual double cross_entropy(Tensor& losses, Tensor* grad, const Tensor& logits,
                               std::int64_t vocab, const std::vector<std::int32_t>& targets,
                               const Tensor& device_targets, std::int32_t ignore_index,
                               double scale) const = 0;

  // ---- Optimizer updates (nn/optimizer).
  // The sum of the squares of every element of every tensor, in double; workspace: f64 slots,
  // 2 * (tensors + kernels::kSumSquaresBlocks) floats.
  virtual double sum_squares(const std::vector<Tensor>& tensors, Tensor& workspace) const = 0;
  // The updates touch the elements [first, first + n) of param (and grad), n being the states'
  // (and the master's) element count: the whole tensor, or a ZeRO-1 piece of it.
  virtual void copy_to_master(Tensor& master, const Tensor& param, std::int64_t first) const = 0;
  virtual void adamw_step(Tensor& param, const Tensor& grad, std::int64_t first, Tensor& m,
                          Tensor& v, Tensor* master, const kernels::AdamwHyper& h) const = 0;
  virtual void sgd_step(Tensor& param, const Tensor& grad, std::int64_t first, Tensor& momentum_buf,
                        Tensor* master, float lr, float momentum, float weight_decay,
                        float grad_scale) const = 0;

  // ---- Sampling (models/device_sampler.h): one id per row of logits, from the rows' streams,
  // where the logits are (kernels/sampling.h: the cpu runs the kernel's twin).
  virtual void sample_tokens(const kernels::SamplingArgs& args) const = 0;
  // ops::argmax_ids: the greedy ids of the keys ln_linear's argmax epilogue made, keys reset.
  virtual void argmax_ids(Tensor& ids, Tensor& keys, std::int64_t V) const = 0;
};

const Backend& cpu_backend();
const Backend& cuda_backend();

// The backend of x's device, after checking that it computes x's dtype (an Error naming `op`
// otherwise); nullptr on meta, where the allocation is the whole op.
const Backend* backend_for(const char* op, const Tensor& x);
// The backend of x's device for byte copies, which take any dtype; nullptr on meta.
const Backend* byte_backend(const Tensor& x);

}  // namespace cugpt
