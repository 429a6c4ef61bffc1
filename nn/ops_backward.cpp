#include "nn/ops_backward.h"

#include <cmath>

#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/cross_entropy.h"
#include "kernels/embedding.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "nn/ops_backends.h"

namespace cugpt::ops {

using backend::as_int;

namespace {

// Where the backward runs: the cpu kernels, or nowhere (meta: allocation only). The CUDA
// backward kernels are not written yet.
bool computes(const char* op, const Tensor& x) {
  if (x.device().is_meta()) return false;
  if (x.device().is_cuda())
    throw Error(std::string(op) + ": the CUDA training path is not built yet; use --device cpu");
  if (x.dtype() != DType::f32 && x.dtype() != DType::f64)
    throw Error(std::string(op) + ": the cpu device trains in f32 or f64, not " +
                dtype_name(x.dtype()));
  return true;
}

template <typename F>
void by_dtype(DType t, F&& f) {
  if (t == DType::f32) return f(float{});
  return f(double{});
}

template <typename T>
const T* in(const Tensor& t) {
  return static_cast<const T*>(t.data());
}
template <typename T>
T* out(Tensor& t) {
  return static_cast<T*>(t.data());
}
template <typename T>
T* out_or_null(Tensor* t) {
  return t ? out<T>(*t) : nullptr;
}

Tensor like(const Tensor& x, const Shape& s, DType dtype) {
  return Tensor::empty(x.arena_ptr(), s, dtype, Category::activation);
}

}  // namespace

Tensor linear_backward(const Tensor& dout, const Tensor& x, const Tensor& w, Tensor* dw, Tensor* db,
                       bool w_in_out, bool need_dx) {
  const std::int64_t IC = x.size(-1), OC = dout.size(-1);
  Tensor dx = need_dx ? like(x, x.shape(), x.dtype()) : Tensor();
  if (!computes("linear_backward", x)) return dx;
  by_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    kernels::matmul_backward_cpu(need_dx ? out<T>(dx) : nullptr, out_or_null<T>(dw),
                                 out_or_null<T>(db), in<T>(dout), in<T>(x), in<T>(w),
                                 as_int(x.numel() / IC, "rows"), as_int(IC, "IC"), as_int(OC, "OC"),
                                 w_in_out);
  });
  return dx;
}

NormOut layernorm_train(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  const std::int64_t C = x.size(-1), N = x.numel() / C;
  // Statistics in f32 (f64 for f64 references), as the CUDA kernel keeps them.
  const DType stat = x.dtype() == DType::f64 ? DType::f64 : DType::f32;
  NormOut r{like(x, x.shape(), x.dtype()), like(x, {N}, stat), like(x, {N}, stat)};
  if (!computes("layernorm", x)) return r;
  by_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    kernels::layernorm_forward_cpu(out<T>(r.out), out<T>(r.mean), out<T>(r.rstd), in<T>(x),
                                   in<T>(weight), in<T>(bias), as_int(N, "rows"), as_int(C, "C"),
                                   static_cast<T>(eps));
  });
  return r;
}

Tensor layernorm_backward(const Tensor& dout, const Tensor& x, const Tensor& weight,
                          const Tensor& mean, const Tensor& rstd, Tensor& dweight, Tensor& dbias) {
  const std::int64_t C = x.size(-1);
  Tensor dx = like(x, x.shape(), x.dtype());
  if (!computes("layernorm_backward", x)) return dx;
  by_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    kernels::layernorm_backward_cpu(out<T>(dx), out<T>(dweight), out<T>(dbias), in<T>(dout),
                                    in<T>(x), in<T>(weight), in<T>(mean), in<T>(rstd),
                                    as_int(x.numel() / C, "rows"), as_int(C, "C"));
  });
  return dx;
}

Tensor activation_backward(const Tensor& dout, const Tensor& x, kernels::Activation act) {
  Tensor dx = like(x, x.shape(), x.dtype());
  if (!computes("activation_backward", x)) return dx;
  by_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    kernels::activation_backward_cpu(out<T>(dx), in<T>(dout), in<T>(x),
                                     static_cast<std::size_t>(x.numel()), act);
  });
  return dx;
}

void attention_backward(const Tensor& dout, const AttentionInputs& inputs, const AttentionGrads& g,
                        std::int64_t H, bool causal, const std::vector<std::int32_t>* key_mask) {
  if (!computes("attention_backward", dout)) return;
  by_dtype(dout.dtype(), [&](auto zero) {
    using T = decltype(zero);
    kernels::AttentionBackwardArgs<T> a;
    a.B = as_int(dout.size(0), "B");
    a.T = as_int(dout.size(1), "T");
    a.H = as_int(H, "H");
    a.D = as_int(dout.size(2) / H, "D");
    a.q = in<T>(*inputs.q) + inputs.q_col;
    a.k = in<T>(*inputs.k) + inputs.k_col;
    a.v = in<T>(*inputs.v) + inputs.v_col;
    a.row_stride = as_int(inputs.q->size(2), "row stride");
    a.dout = in<T>(dout);
    a.dq = out<T>(*g.dq) + inputs.q_col;
    a.dk = out<T>(*g.dk) + inputs.k_col;
    a.dv = out<T>(*g.dv) + inputs.v_col;
    a.causal = causal;
    a.key_mask = key_mask ? key_mask->data() : nullptr;
    a.scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(a.D)));
    kernels::attention_backward_cpu(a);
  });
}

void embedding_backward(const Tensor& dout, const std::vector<std::int32_t>& tokens,
                        const std::vector<std::int32_t>& positions, Tensor& dwte, Tensor& dwpe,
                        Tensor* dwtt) {
  if (!computes("embedding_backward", dout)) return;
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

double cross_entropy_backward_inplace(Tensor& logits, const std::vector<std::int32_t>& targets,
                                      std::int32_t ignore_index, double grad_scale) {
  const std::int64_t V = logits.size(-1), N = logits.numel() / V;
  if (static_cast<std::int64_t>(targets.size()) != N)
    throw Error("cross_entropy: " + std::to_string(targets.size()) + " targets for " +
                std::to_string(N) + " rows");
  std::int64_t counted = 0;
  for (std::int32_t t : targets) counted += t != ignore_index;
  if (counted == 0) throw Error("cross_entropy: every target is ignored");
  // The per-row losses are the only extra memory: N values, not N x V.
  Tensor losses = like(logits, {N}, logits.dtype());
  if (!computes("cross_entropy", logits)) return 0.0;
  double total = 0;
  by_dtype(logits.dtype(), [&](auto zero) {
    using T = decltype(zero);
    kernels::cross_entropy_forward_backward_cpu(
        out<T>(losses), out<T>(logits), in<T>(logits), targets.data(), as_int(N, "rows"),
        as_int(V, "V"), ignore_index, static_cast<T>(grad_scale / static_cast<double>(counted)));
    for (std::int64_t i = 0; i < N; ++i) total += in<T>(losses)[i];
  });
  return total / static_cast<double>(counted);
}

double cross_entropy_loss(const Tensor& logits, const std::vector<std::int32_t>& targets,
                          std::int32_t ignore_index) {
  const std::int64_t V = logits.size(-1), N = logits.numel() / V;
  if (static_cast<std::int64_t>(targets.size()) != N)
    throw Error("cross_entropy: " + std::to_string(targets.size()) + " targets for " +
                std::to_string(N) + " rows");
  Tensor losses = like(logits, {N}, logits.dtype());
  if (!computes("cross_entropy", logits)) return 0.0;
  double total = 0;
  std::int64_t counted = 0;
  by_dtype(logits.dtype(), [&](auto zero) {
    using T = decltype(zero);
    kernels::cross_entropy_forward_backward_cpu(out<T>(losses), static_cast<T*>(nullptr),
                                                in<T>(logits), targets.data(), as_int(N, "rows"),
                                                as_int(V, "V"), ignore_index, T(1));
    for (std::int64_t i = 0; i < N; ++i) {
      total += in<T>(losses)[i];
      counted += targets[static_cast<std::size_t>(i)] != ignore_index;
    }
  });
  if (counted == 0) throw Error("cross_entropy: every target is ignored");
  return total / static_cast<double>(counted);
}

}  // namespace cugpt::ops
