// The cpu backend: the Eigen kernels of kernels/cpu in f32 or f64 (f64 for references).
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/activation.h"
#include "kernels/adamw.h"
#include "kernels/attention.h"
#include "kernels/attention_decode.h"
#include "kernels/copy_rows.h"
#include "kernels/cross_entropy.h"
#include "kernels/decode_state.h"
#include "kernels/embedding.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/residual.h"
#include "nn/backend.h"
#include "nn/backend_util.h"

namespace cugpt {

namespace {

using namespace detail;

template <typename T>
T inv_sqrt(int d) {
  return static_cast<T>(1.0 / std::sqrt(static_cast<double>(d)));
}

// The head layout both attention argument structs share: sizes from `like` (B, T, H * D), q, k
// and v read in place at their columns, and the 1/sqrt(D) scale.
template <typename Args>
void set_heads(Args& a, const Tensor& like, const ops::AttentionInputs& x, std::int64_t H) {
  using T = std::remove_const_t<std::remove_pointer_t<decltype(a.q)>>;
  a.B = as_int(like.size(0), "B");
  a.T = as_int(like.size(1), "T");
  a.H = as_int(H, "H");
  a.D = as_int(like.size(2) / H, "D");
  a.q = in<T>(*x.q) + x.q_col;
  a.k = in<T>(*x.k) + x.k_col;
  a.v = in<T>(*x.v) + x.v_col;
  a.row_stride = as_int(x.q->size(2), "row stride");
  a.scale = inv_sqrt<T>(a.D);
}

class CpuBackend final : public Backend {
 public:
  const char* device_name() const override { return "cpu"; }
  const char* dtypes() const override { return "f32 or f64"; }
  bool computes(DType t) const override { return t == DType::f32 || t == DType::f64; }

  void linear(Tensor& o, const Tensor& x, const Tensor& w, const Tensor* bias, bool w_in_out,
              const kernels::Activation* act, Tensor&, const Tensor* residual) const override {
    const std::int64_t IC = x.size(-1), OC = w.size(w_in_out ? 1 : 0), ld = o.size(-1);
    by_dtype(x.dtype(), [&](auto zero) {
      using T = decltype(zero);
      kernels::matmul_forward_cpu(out<T>(o), in<T>(x), in<T>(w), in_or_null<T>(bias),
                                  as_int(x.numel() / IC, "rows"), as_int(IC, "IC"),
                                  as_int(OC, "OC"), w_in_out, as_int(ld, "ld"));
    });
    if (act) activation(o, o, *act);     // in place: the same tensors as cuda's fused epilogue
    if (residual) add(o, *residual, o);  // the unfused path's add: the same bits
  }

  void layernorm(Tensor& o, Tensor* mean, Tensor* rstd, const Tensor& x, const Tensor& w,
                 const Tensor& b, double eps) const override {
    const std::int64_t C = x.size(-1);
    by_dtype(x.dtype(), [&](auto zero) {
      using T = decltype(zero);
      kernels::layernorm_forward_cpu(out<T>(o), out_or_null<T>(mean), out_or_null<T>(rstd),
                                     in<T>(x), in<T>(w), in<T>(b), as_int(x.numel() / C, "rows"),
                                     as_int(C, "C"), static_cast<T>(eps));
    });
  }

  void add_layernorm(Tensor& sum, Tensor& normed, const Tensor& x, const Tensor& r, const Tensor& w,
                     const Tensor& b, double eps) const override {
    add(sum, x, r);
    layernorm(normed, nullptr, nullptr, sum, w, b, eps);
  }

  // The cpu runs the unfused path's kernels (the same bits as LayerNorm then linear or
  // linear_act), the normalised rows in the workspace; kernels/cpu/ln_gemv.cpp is the CUDA
  // kernel's oracle. With keys, the logits are formed in o and their keys taken from there.
  void ln_linear(Tensor& o, const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps,
                 const ops::LinearParts& w, bool w_in_out, Tensor& ws,
                 const kernels::Activation* act, Tensor* keys) const override {
    const std::int64_t K = x.size(-1), N = o.size(-1), rows = x.numel() / K;
    const std::int64_t Np = N / w.count;
    by_dtype(x.dtype(), [&](auto zero) {
      using T = decltype(zero);
      T* normed = static_cast<T*>(ws.data());
      kernels::layernorm_forward_cpu(normed, nullptr, nullptr, in<T>(x), in<T>(gamma), in<T>(beta),
                                     as_int(rows, "rows"), as_int(K, "K"), static_cast<T>(eps));
      for (int p = 0; p < w.count; ++p)
        kernels::matmul_forward_cpu(out<T>(o) + p * Np, normed, in<T>(*w.w[p]),
                                    in_or_null<T>(w.bias[p]), as_int(rows, "rows"), as_int(K, "K"),
                                    as_int(Np, "N"), w_in_out, as_int(N, "N"));
    });
    if (act) activation(o, o, *act);
    if (keys)  // f32 logits: ln_linear_argmax_fits
      kernels::max_order_keys_cpu(static_cast<std::uint64_t*>(keys->data()),
                                  static_cast<const float*>(o.data()), as_int(rows, "rows"),
                                  as_int(N, "N"), as_int(N, "N"));
  }

  void activation(Tensor& o, const Tensor& x, kernels::Activation act) const override {
    by_dtype(x.dtype(), [&](auto zero) {
      using T = decltype(zero);
      kernels::activation_forward_cpu(out<T>(o), in<T>(x), static_cast<std::size_t>(x.numel()),
                                      act);
    });
  }

  void add(Tensor& o, const Tensor& a, const Tensor& b) const override {
    by_dtype(a.dtype(), [&](auto zero) {
      using T = decltype(zero);
      kernels::residual_forward_cpu(out<T>(o), in<T>(a), in<T>(b),
                                    static_cast<std::size_t>(a.numel()));
    });
  }

  void embedding(Tensor& o, const Tensor& tokens, const Tensor& positions, const Tensor& wte,
                 const Tensor& wpe, const Tensor* wtt) const override {
    kernels::EmbeddingArgs a;
    a.B = as_int(o.size(0), "B");
    a.T = as_int(o.size(1), "T");
    a.C = as_int(o.size(2), "C");
    a.tokens = in<std::int32_t>(tokens);
    a.positions = in<std::int32_t>(positions);
    by_dtype(wte.dtype(), [&](auto zero) {
      using T = decltype(zero);
      kernels::embedding_forward_cpu(a, out<T>(o), in<T>(wte), in<T>(wpe), in_or_null<T>(wtt));
    });
  }

  void attention(Tensor& o, Tensor* probs, const ops::AttentionInputs& x, std::int64_t H,
                 bool causal, const Tensor* mask) const override {
    by_dtype(o.dtype(), [&](auto zero) {
      using T = decltype(zero);
      kernels::AttentionArgs<T> a;
      set_heads(a, o, x, H);
      a.out = out<T>(o);
      a.causal = causal;
      a.key_mask = in_or_null<std::int32_t>(mask);
      a.probs = out_or_null<T>(probs);
      kernels::attention_forward_cpu(a);
    });
  }

  void attention_decode(Tensor& o, const Tensor& q, std::int64_t q_col, const Tensor& k,
                        const Tensor& v, std::int64_t past, const Tensor* past_device,
                        std::int64_t H, const ops::NewKv* new_kv) const override {
    if (new_kv) {             // the unfused path's cache writes first: the same bits
      Tensor kc = k, vc = v;  // handles to the caches, which this op writes
      cache_write(kc, *new_kv->k, new_kv->k_col, *past_device);
      cache_write(vc, *new_kv->v, new_kv->v_col, *past_device);
    }
    by_dtype(q.dtype(), [&](auto zero) {
      using T = decltype(zero);
      kernels::DecodeArgs<T> a;
      a.B = as_int(q.size(0), "B");
      a.Tq = as_int(q.size(1), "Tq");
      a.past = as_int(past, "past");
      if (past_device) {  // what the cuda kernel does with a device-held length
        const std::int32_t held = *static_cast<const std::int32_t*>(past_device->data());
        a.past = std::min(std::max(held, 0), as_int(k.size(1) - q.size(1), "t_max"));
      }
      a.H = as_int(H, "H");
      a.D = as_int(k.size(2) / H, "D");
      a.q = in<T>(q) + q_col;
      a.q_stride = as_int(q.size(2), "q stride");
      a.k_cache = in<T>(k);
      a.v_cache = in<T>(v);
      a.t_max = as_int(k.size(1), "t_max");
      a.out = out<T>(o);
      a.scale = inv_sqrt<T>(a.D);
      kernels::attention_decode_cpu(a);
    });
  }

  void copy_rows(void* dst, std::size_t dst_pitch, const void* src, std::size_t src_pitch,
                 std::size_t row_bytes, std::size_t rows) const override {
    kernels::copy_rows_cpu(dst, dst_pitch, src, src_pitch, row_bytes, rows);
  }

  void cache_write(Tensor& cache, const Tensor& src, std::int64_t col,
                   const Tensor& past_device) const override {
    kernels::cache_write_cpu(cache_write_args(cache, src, col, past_device));
  }

  void advance_positions(Tensor& positions, std::int32_t delta) const override {
    kernels::advance_positions_cpu(static_cast<std::int32_t*>(positions.data()),
                                   as_int(positions.numel(), "positions"), delta);
  }

  void linear_backward(Tensor* dx, Tensor* dw, Tensor* db, const Tensor& dout, const Tensor& x,
                       const Tensor& w, bool w_in_out, Tensor&) const override {
    const std::int64_t IC = x.size(-1), OC = w.size(w_in_out ? 1 : 0), ld = dout.size(-1);
    by_dtype(x.dtype(), [&](auto zero) {
      using T = decltype(zero);
      kernels::matmul_backward_cpu(out_or_null<T>(dx), out_or_null<T>(dw), out_or_null<T>(db),
                                   in<T>(dout), in<T>(x), in<T>(w), as_int(x.numel() / IC, "rows"),
                                   as_int(IC, "IC"), as_int(OC, "OC"), w_in_out, as_int(ld, "ld"));
    });
  }

  void layernorm_backward(Tensor& dx, Tensor& dweight, Tensor& dbias, const Tensor& dout,
                          const Tensor& x, const Tensor& weight, const Tensor& mean,
                          const Tensor& rstd, Tensor&) const override {
    const std::int64_t C = x.size(-1);
    by_dtype(x.dtype(), [&](auto zero) {
      using T = decltype(zero);
      kernels::layernorm_backward_cpu(out<T>(dx), out<T>(dweight), out<T>(dbias), in<T>(dout),
                                      in<T>(x), in<T>(weight), in<T>(mean), in<T>(rstd),
                                      as_int(x.numel() / C, "rows"), as_int(C, "C"));
    });
  }

  void activation_backward(Tensor& dx, const Tensor& dout, const Tensor& x,
                           kernels::Activation act) const override {
    by_dtype(x.dtype(), [&](auto zero) {
      using T = decltype(zero);
      kernels::activation_backward_cpu(out<T>(dx), in<T>(dout), in<T>(x),
                                       static_cast<std::size_t>(x.numel()), act);
    });
  }

  void attention_backward(const Tensor& dout, const ops::AttentionInputs& x,
                          const ops::AttentionGrads& g, std::int64_t H, bool causal,
                          const Tensor* mask, Tensor&) const override {
    by_dtype(dout.dtype(), [&](auto zero) {
      using T = decltype(zero);
      kernels::AttentionBackwardArgs<T> a;
      set_heads(a, dout, x, H);
      a.dout = in<T>(dout);
      a.dq = out<T>(*g.dq) + x.q_col;
      a.dk = out<T>(*g.dk) + x.k_col;
      a.dv = out<T>(*g.dv) + x.v_col;
      a.causal = causal;
      a.key_mask = in_or_null<std::int32_t>(mask);
      kernels::attention_backward_cpu(a);
    });
  }

  void embedding_backward(const Tensor& dout, const std::vector<std::int32_t>& tokens,
                          const std::vector<std::int32_t>& positions, Tensor& dwte, Tensor& dwpe,
                          Tensor* dwtt, Tensor&) const override {
    kernels::EmbeddingArgs a;
    a.B = as_int(dout.size(0), "B");
    a.T = as_int(dout.size(1), "T");
    a.C = as_int(dout.size(2), "C");
    a.tokens = tokens.data();
    a.positions = positions.data();
    by_dtype(dout.dtype(), [&](auto zero) {
      using T = decltype(zero);
      kernels::embedding_backward_cpu(a, in<T>(dout), out<T>(dwte), out<T>(dwpe),
                                      out_or_null<T>(dwtt));
    });
  }

  double cross_entropy(Tensor& losses, Tensor* grad, const Tensor& logits, std::int64_t V,
                       const std::vector<std::int32_t>& targets, const Tensor&,
                       std::int32_t ignore_index, double scale) const override {
    const std::int64_t ld = logits.size(-1), N = logits.numel() / ld;
    double total = 0;
    by_dtype(logits.dtype(), [&](auto zero) {
      using T = decltype(zero);
      kernels::cross_entropy_forward_backward_cpu(
          out<T>(losses), out_or_null<T>(grad), in<T>(logits), targets.data(), as_int(N, "rows"),
          as_int(V, "V"), ignore_index, static_cast<T>(scale), as_int(ld, "ld"));
      for (std::int64_t i = 0; i < N; ++i) total += in<T>(losses)[i];
    });
    return total;
  }

  // The optimizer's updates also take 16-bit parameters (with their f32 masters), which the cpu
  // holds but does not compute with: the host side of optimizer offload (train/offload.h).
  double sum_squares(const std::vector<Tensor>& tensors, Tensor&) const override {
    double squares = 0;
    for (const auto& g : tensors) {
      const auto n = static_cast<std::size_t>(g.numel());
      if (dtype_size(g.dtype()) == 2) {
        squares += kernels::sum_squares_cpu(in<std::uint16_t>(g), n, g.dtype());
        continue;
      }
      by_dtype(g.dtype(), [&](auto zero) {
        using T = decltype(zero);
        squares += kernels::sum_squares_cpu(in<T>(g), n);
      });
    }
    return squares;
  }

  void copy_to_master(Tensor& master, const Tensor& param, std::int64_t first) const override {
    kernels::copy_to_master_cpu(out<float>(master), in<std::uint16_t>(param) + first,
                                static_cast<std::size_t>(master.numel()), param.dtype());
  }

  void adamw_step(Tensor& p, const Tensor& g, std::int64_t first, Tensor& m, Tensor& v,
                  Tensor* master, const kernels::AdamwHyper& h) const override {
    const auto n = static_cast<std::size_t>(m.numel());
    if (master) {
      kernels::adamw_step_cpu(out<std::uint16_t>(p) + first, in<std::uint16_t>(g) + first,
                              out<float>(m), out<float>(v), out<float>(*master), n, h, p.dtype());
      return;
    }
    by_dtype(p.dtype(), [&](auto zero) {
      using T = decltype(zero);
      kernels::adamw_step_cpu(out<T>(p) + first, in<T>(g) + first, out<float>(m), out<float>(v), n,
                              h);
    });
  }

  void sgd_step(Tensor& p, const Tensor& g, std::int64_t first, Tensor& buf, Tensor* master,
                float lr, float momentum, float weight_decay, float grad_scale) const override {
    const auto n = static_cast<std::size_t>(buf.numel());
    if (master) {
      kernels::sgd_step_cpu(out<std::uint16_t>(p) + first, in<std::uint16_t>(g) + first,
                            out<float>(buf), out<float>(*master), n, lr, momentum, weight_decay,
                            grad_scale, p.dtype());
      return;
    }
    by_dtype(p.dtype(), [&](auto zero) {
      using T = decltype(zero);
      kernels::sgd_step_cpu(out<T>(p) + first, in<T>(g) + first, out<float>(buf), n, lr, momentum,
                            weight_decay, grad_scale);
    });
  }

  void sample_tokens(const kernels::SamplingArgs& args) const override {
    kernels::sample_tokens_cpu(args);
  }

  void argmax_ids(Tensor& ids, Tensor& keys, std::int64_t V) const override {
    kernels::argmax_ids_cpu(static_cast<std::int32_t*>(ids.data()),
                            static_cast<std::uint64_t*>(keys.data()), as_int(ids.numel(), "B"),
                            as_int(V, "V"));
  }
};

}  // namespace

const Backend& cpu_backend() {
  static const CpuBackend backend;
  return backend;
}

}  // namespace cugpt
