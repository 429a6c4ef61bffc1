// The cuda backend: the kernels of kernels/cuda and cuBLASLt in f32, bf16 or f16. In a build
// without CUDA the kernels it calls say so.
#include <cmath>

#include "kernels/activation.h"
#include "kernels/adamw.h"
#include "kernels/attention.h"
#include "kernels/attention_decode.h"
#include "kernels/copy_rows.h"
#include "kernels/cross_entropy.h"
#include "kernels/decode_state.h"
#include "kernels/embedding.h"
#include "kernels/layernorm.h"
#include "kernels/ln_gemv.h"
#include "kernels/matmul.h"
#include "kernels/residual.h"
#include "kernels/runtime.h"
#include "nn/backend.h"
#include "nn/backend_util.h"

namespace cugpt {

namespace {

using namespace detail;

float inv_sqrt(int d) {
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
}
float* f32(Tensor& t) {
  return static_cast<float*>(t.data());
}
float* f32_or_null(Tensor* t) {
  return t ? f32(*t) : nullptr;
}
const float* f32(const Tensor& t) {
  return static_cast<const float*>(t.data());
}
const std::int32_t* ids(const Tensor* t) {
  return t ? static_cast<const std::int32_t*>(t->data()) : nullptr;
}

void check_targets(const std::vector<std::int32_t>& targets, std::int64_t V,
                   std::int32_t ignore_index) {
  for (std::size_t n = 0; n < targets.size(); ++n) {
    const std::int32_t t = targets[n];
    if (t != ignore_index && (t < 0 || t >= V))
      throw Error("cross_entropy: row " + std::to_string(n) + " has target id " +
                  std::to_string(t) + ", outside [0, " + std::to_string(V) + ")");
  }
}

class CudaBackend final : public Backend {
 public:
  const char* device_name() const override { return "cuda"; }
  const char* dtypes() const override { return "f32, bf16 or f16"; }
  bool computes(DType t) const override {
    return t == DType::f32 || t == DType::bf16 || t == DType::f16;
  }

  void linear(Tensor& o, const Tensor& x, const Tensor& w, const Tensor* bias, bool w_in_out,
              const kernels::Activation* act, Tensor& ws, const Tensor* residual) const override {
    const kernels::Epilogue epi = act ? kernels::gemm_epilogue(*act) : kernels::Epilogue::none;
    // ops::linear passes only activations with an epilogue (fusable_in_gemm); anything else
    // would be dropped here, so it is an error rather than a product without its activation.
    CUGPT_CHECK(!act || epi != kernels::Epilogue::none,
                "linear: this activation has no GEMM epilogue on cuda");
    const std::int64_t IC = x.size(-1), OC = w.size(w_in_out ? 1 : 0), ld = o.size(-1);
    kernels::matmul_forward_cuda(o.data(), x.data(), w.data(), ptr_or_null(bias),
                                 as_int(x.numel() / IC, "rows"), as_int(IC, "IC"), as_int(OC, "OC"),
                                 w_in_out, epi, x.dtype(), {ws.data(), ws.nbytes()},
                                 current_stream(), as_int(ld, "ld"), ptr_or_null(residual));
  }

  void layernorm(Tensor& o, Tensor* mean, Tensor* rstd, const Tensor& x, const Tensor& w,
                 const Tensor& b, double eps) const override {
    const std::int64_t C = x.size(-1);
    kernels::layernorm_forward_cuda(o.data(), f32_or_null(mean), f32_or_null(rstd), x.data(),
                                    w.data(), b.data(), as_int(x.numel() / C, "rows"),
                                    as_int(C, "C"), static_cast<float>(eps), x.dtype(),
                                    current_stream());
  }

  void add_layernorm(Tensor& sum, Tensor& normed, const Tensor& x, const Tensor& r, const Tensor& w,
                     const Tensor& b, double eps) const override {
    const std::int64_t C = x.size(-1);
    kernels::layernorm_residual_forward_cuda(sum.data(), normed.data(), nullptr, nullptr, x.data(),
                                             r.data(), w.data(), b.data(),
                                             as_int(x.numel() / C, "rows"), as_int(C, "C"),
                                             static_cast<float>(eps), x.dtype(), current_stream());
  }

  void ln_linear(Tensor& o, const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps,
                 const ops::LinearParts& w, bool w_in_out, Tensor& ws,
                 const kernels::Activation* act, Tensor* keys) const override {
    const std::int64_t K = x.size(-1), N = o.size(-1);
    kernels::LnGemvWeights weights;
    weights.parts = w.count;
    for (int p = 0; p < w.count; ++p)
      weights.w[p] = w.w[p]->data(), weights.bias[p] = ptr_or_null(w.bias[p]);
    kernels::LnGemvEpilogue epi;
    epi.act = act;
    epi.argmax_keys = keys ? static_cast<std::uint64_t*>(keys->data()) : nullptr;
    kernels::ln_gemv_parts_cuda(o.data(), x.data(), gamma.data(), beta.data(), weights,
                                as_int(x.numel() / K, "rows"), as_int(K, "K"), as_int(N, "N"),
                                static_cast<float>(eps), w_in_out, x.dtype(), ws.data(),
                                ws.nbytes(), current_stream(), 0, epi);
  }

  void activation(Tensor& o, const Tensor& x, kernels::Activation act) const override {
    kernels::activation_forward_cuda(o.data(), x.data(), static_cast<std::size_t>(x.numel()), act,
                                     x.dtype(), current_stream());
  }

  void add(Tensor& o, const Tensor& a, const Tensor& b) const override {
    kernels::residual_forward_cuda(o.data(), a.data(), b.data(),
                                   static_cast<std::size_t>(a.numel()), a.dtype(),
                                   current_stream());
  }

  void embedding(Tensor& o, const Tensor& tokens, const Tensor& positions, const Tensor& wte,
                 const Tensor& wpe, const Tensor* wtt) const override {
    kernels::EmbeddingArgs a;
    a.B = as_int(o.size(0), "B");
    a.T = as_int(o.size(1), "T");
    a.C = as_int(o.size(2), "C");
    a.tokens = ids(&tokens);
    a.positions = ids(&positions);
    kernels::embedding_forward_cuda(a, o.data(), wte.data(), wpe.data(), ptr_or_null(wtt),
                                    wte.dtype(), current_stream());
  }

  void attention(Tensor& o, Tensor*, const ops::AttentionInputs& x, std::int64_t H, bool causal,
                 const Tensor* mask) const override {
    kernels::AttentionCudaArgs a;
    a.B = as_int(o.size(0), "B");
    a.T = as_int(o.size(1), "T");
    a.H = as_int(H, "H");
    a.D = as_int(o.size(2) / H, "D");
    a.q = at(*x.q, x.q_col);
    a.k = at(*x.k, x.k_col);
    a.v = at(*x.v, x.v_col);
    a.row_stride = as_int(x.q->size(2), "row stride");
    a.out = o.data();
    a.causal = causal;
    a.key_mask = ids(mask);
    a.scale = inv_sqrt(a.D);
    a.dtype = o.dtype();
    kernels::attention_forward_cuda(a, current_stream());
  }

  void attention_decode(Tensor& o, const Tensor& q, std::int64_t q_col, const Tensor& k,
                        const Tensor& v, std::int64_t past, const Tensor* past_device,
                        std::int64_t H, const ops::NewKv* new_kv) const override {
    kernels::DecodeCudaArgs a;
    a.B = as_int(q.size(0), "B");
    a.Tq = as_int(q.size(1), "Tq");
    a.past = as_int(past, "past");
    a.past_device = ids(past_device);
    if (new_kv) {
      a.k_new = at(*new_kv->k, new_kv->k_col);
      a.v_new = at(*new_kv->v, new_kv->v_col);
      a.k_new_stride = as_int(new_kv->k->size(2), "new key stride");
      a.v_new_stride = as_int(new_kv->v->size(2), "new value stride");
    }
    a.H = as_int(H, "H");
    a.D = as_int(k.size(2) / H, "D");
    a.q = at(q, q_col);
    a.q_stride = as_int(q.size(2), "q stride");
    a.k_cache = k.data();
    a.v_cache = v.data();
    a.t_max = as_int(k.size(1), "t_max");
    a.out = o.data();
    a.scale = inv_sqrt(a.D);
    a.dtype = q.dtype();
    kernels::attention_decode_cuda(a, current_stream());
  }

  void copy_rows(void* dst, std::size_t dst_pitch, const void* src, std::size_t src_pitch,
                 std::size_t row_bytes, std::size_t rows) const override {
    kernels::copy_rows_cuda(dst, dst_pitch, src, src_pitch, row_bytes, rows, current_stream());
  }

  void cache_write(Tensor& cache, const Tensor& src, std::int64_t col,
                   const Tensor& past_device) const override {
    kernels::cache_write_cuda(cache_write_args(cache, src, col, past_device), current_stream());
  }

  void advance_positions(Tensor& positions, std::int32_t delta) const override {
    kernels::advance_positions_cuda(static_cast<std::int32_t*>(positions.data()),
                                    as_int(positions.numel(), "positions"), delta,
                                    current_stream());
  }

  void linear_backward(Tensor* dx, Tensor* dw, Tensor* db, const Tensor& dout, const Tensor& x,
                       const Tensor& w, bool w_in_out, Tensor& ws) const override {
    const std::int64_t IC = x.size(-1), OC = w.size(w_in_out ? 1 : 0), ld = dout.size(-1);
    kernels::matmul_backward_cuda(ptr_or_null(dx), ptr_or_null(dw), ptr_or_null(db), dout.data(),
                                  x.data(), w.data(), as_int(x.numel() / IC, "rows"),
                                  as_int(IC, "IC"), as_int(OC, "OC"), w_in_out, x.dtype(),
                                  {ws.data(), ws.nbytes()}, current_stream(), as_int(ld, "ld"));
  }

  void layernorm_backward(Tensor& dx, Tensor& dweight, Tensor& dbias, const Tensor& dout,
                          const Tensor& x, const Tensor& weight, const Tensor& mean,
                          const Tensor& rstd, Tensor& ws) const override {
    const std::int64_t C = x.size(-1);
    kernels::layernorm_backward_cuda(dx.data(), dweight.data(), dbias.data(), dout.data(), x.data(),
                                     weight.data(), f32(mean), f32(rstd),
                                     as_int(x.numel() / C, "rows"), as_int(C, "C"), f32(ws),
                                     x.dtype(), current_stream());
  }

  void activation_backward(Tensor& dx, const Tensor& dout, const Tensor& x,
                           kernels::Activation act) const override {
    kernels::activation_backward_cuda(dx.data(), dout.data(), x.data(),
                                      static_cast<std::size_t>(x.numel()), act, x.dtype(),
                                      current_stream());
  }

  void attention_backward(const Tensor& dout, const ops::AttentionInputs& x,
                          const ops::AttentionGrads& g, std::int64_t H, bool causal,
                          const Tensor* mask, Tensor& ws) const override {
    kernels::AttentionBackwardCudaArgs a;
    a.B = as_int(dout.size(0), "B");
    a.T = as_int(dout.size(1), "T");
    a.H = as_int(H, "H");
    a.D = as_int(dout.size(2) / H, "D");
    a.q = at(*x.q, x.q_col);
    a.k = at(*x.k, x.k_col);
    a.v = at(*x.v, x.v_col);
    a.row_stride = as_int(x.q->size(2), "row stride");
    a.dout = dout.data();
    a.dq = at(*g.dq, x.q_col);
    a.dk = at(*g.dk, x.k_col);
    a.dv = at(*g.dv, x.v_col);
    a.causal = causal;
    a.key_mask = ids(mask);
    a.scale = inv_sqrt(a.D);
    a.dtype = dout.dtype();
    a.workspace = f32(ws);
    kernels::attention_backward_cuda(a, current_stream());
  }

  // The scatter-add's row groups, one grouping per table, are built on the host and copied
  // into `groups` in one transfer.
  void embedding_backward(const Tensor& dout, const std::vector<std::int32_t>& tokens,
                          const std::vector<std::int32_t>& positions, Tensor& dwte, Tensor& dwpe,
                          Tensor* dwtt, Tensor& groups) const override {
    const int C = as_int(dout.size(2), "C");
    const int N = as_int(dout.size(0) * dout.size(1), "B*T");
    const std::size_t per_table = kernels::embedding_groups_ints(N);
    const std::size_t tables = dwtt ? 3 : 2;
    std::vector<std::int32_t> host(tables * per_table);
    const std::vector<std::int32_t> types(dwtt ? static_cast<std::size_t>(N) : 0, 0);
    const std::vector<std::int32_t>* table_ids[3] = {&tokens, &positions, &types};
    int counts[3] = {0, 0, 0};
    for (std::size_t i = 0; i < tables; ++i)
      counts[i] =
          kernels::group_embedding_rows(table_ids[i]->data(), N, host.data() + i * per_table);
    groups.copy_from_host(host.data(), host.size() * sizeof(std::int32_t));
    Tensor* grads[3] = {&dwte, &dwpe, dwtt};
    const auto* base = ids(&groups);
    for (std::size_t i = 0; i < tables; ++i)
      kernels::embedding_backward_cuda(
          dout.data(), C, grads[i]->data(),
          kernels::embedding_groups_at(base + i * per_table, N, counts[i]), dout.dtype(),
          current_stream());
  }

  // Per-row f32 losses on the device, summed on the host in double (row order, so the total is
  // reproducible).
  double cross_entropy(Tensor& losses, Tensor* grad, const Tensor& logits, std::int64_t V,
                       const std::vector<std::int32_t>& targets, const Tensor& device_targets,
                       std::int32_t ignore_index, double scale) const override {
    const std::int64_t ld = logits.size(-1), N = logits.numel() / ld;
    check_targets(targets, V, ignore_index);
    kernels::cross_entropy_forward_backward_cuda(
        f32(losses), ptr_or_null(grad), logits.data(), ids(&device_targets), as_int(N, "rows"),
        as_int(V, "V"), ignore_index, static_cast<float>(scale), logits.dtype(), current_stream(),
        as_int(ld, "ld"));
    std::vector<float> host(static_cast<std::size_t>(N));
    losses.copy_to_host(host.data(), host.size() * sizeof(float));
    double total = 0;
    for (float l : host) total += l;
    return total;
  }

  // Each tensor's sum lands in one f64 slot of the workspace (after kSumSquaresBlocks slots of
  // partials); the slots come back in one copy and are added in order.
  double sum_squares(const std::vector<Tensor>& tensors, Tensor& ws) const override {
    const std::size_t count = tensors.size();
    auto* slots = static_cast<double*>(ws.data());
    for (std::size_t i = 0; i < count; ++i) {
      const Tensor& g = tensors[i];
      kernels::sum_squares_cuda(g.data(), static_cast<std::size_t>(g.numel()), g.dtype(), slots + i,
                                slots + count, current_stream());
    }
    std::vector<double> host(count);
    cuda_memcpy_d2h(host.data(), slots, host.size() * sizeof(double), current_stream());
    double squares = 0;
    for (double s : host) squares += s;
    return squares;
  }

  void copy_to_master(Tensor& master, const Tensor& p, std::int64_t first) const override {
    kernels::copy_to_master_cuda(f32(master), at(p, first),
                                 static_cast<std::size_t>(master.numel()), p.dtype(),
                                 current_stream());
  }

  void adamw_step(Tensor& p, const Tensor& g, std::int64_t first, Tensor& m, Tensor& v,
                  Tensor* master, const kernels::AdamwHyper& h) const override {
    kernels::adamw_step_cuda(at(p, first), at(g, first), f32(m), f32(v), f32_or_null(master),
                             static_cast<std::size_t>(m.numel()), h, p.dtype(), current_stream());
  }

  void sgd_step(Tensor& p, const Tensor& g, std::int64_t first, Tensor& buf, Tensor* master,
                float lr, float momentum, float weight_decay, float grad_scale) const override {
    kernels::sgd_step_cuda(at(p, first), at(g, first), f32(buf), f32_or_null(master),
                           static_cast<std::size_t>(buf.numel()), lr, momentum, weight_decay,
                           grad_scale, p.dtype(), current_stream());
  }

  void sample_tokens(const kernels::SamplingArgs& args) const override {
    kernels::sample_tokens_cuda(args, current_stream());
  }

  void argmax_ids(Tensor& ids, Tensor& keys, std::int64_t V) const override {
    kernels::argmax_ids_cuda(static_cast<std::int32_t*>(ids.data()),
                             static_cast<std::uint64_t*>(keys.data()), as_int(ids.numel(), "B"),
                             as_int(V, "V"), current_stream());
  }
};

}  // namespace

const Backend& cuda_backend() {
  static const CudaBackend backend;
  return backend;
}

}  // namespace cugpt
