#include <cmath>

#include "kernels/attention.h"
#include "kernels/attention_decode.h"
#include "kernels/embedding.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/residual.h"
#include "nn/ops_backends.h"

namespace cugpt::ops::backend {

namespace {

template <typename T>
const T* in(const Tensor& t) {
  return static_cast<const T*>(t.data());
}
template <typename T>
T* out_of(Tensor& t) {
  return static_cast<T*>(t.data());
}
template <typename T>
const T* in_or_null(const Tensor* t) {
  return t ? in<T>(*t) : nullptr;
}

// Runs f<float> or f<double> for the tensor's dtype.
template <typename F>
void by_dtype(const char* op, DType dtype, F&& f) {
  if (dtype == DType::f32) return f(float{});
  if (dtype == DType::f64) return f(double{});
  throw Error(std::string(op) + ": the cpu device computes in f32 or f64, not " +
              dtype_name(dtype));
}

}  // namespace

int as_int(std::int64_t v, const char* what) {
  if (v > (1ll << 31) - 1) throw Error(std::string(what) + " too large for a kernel launch");
  return static_cast<int>(v);
}

void cpu_linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor* bias, bool w_in_out) {
  const std::int64_t IC = x.size(-1), OC = out.size(-1);
  by_dtype("linear", x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    kernels::matmul_forward_cpu(out_of<T>(out), in<T>(x), in<T>(w), in_or_null<T>(bias),
                                as_int(x.numel() / IC, "rows"), as_int(IC, "IC"), as_int(OC, "OC"),
                                w_in_out);
  });
}

void cpu_layernorm(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
  const std::int64_t C = x.size(-1);
  by_dtype("layernorm", x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    kernels::layernorm_forward_cpu(out_of<T>(out), nullptr, nullptr, in<T>(x), in<T>(w), in<T>(b),
                                   as_int(x.numel() / C, "rows"), as_int(C, "C"),
                                   static_cast<T>(eps));
  });
}

void cpu_activation(Tensor& out, const Tensor& x, kernels::Activation act) {
  by_dtype("activation", x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    kernels::activation_forward_cpu(out_of<T>(out), in<T>(x), static_cast<std::size_t>(x.numel()),
                                    act);
  });
}

void cpu_add(Tensor& out, const Tensor& a, const Tensor& b) {
  by_dtype("add", a.dtype(), [&](auto zero) {
    using T = decltype(zero);
    kernels::residual_forward_cpu(out_of<T>(out), in<T>(a), in<T>(b),
                                  static_cast<std::size_t>(a.numel()));
  });
}

void cpu_embedding(Tensor& out, const Tensor& tokens, const Tensor& positions, const Tensor& wte,
                   const Tensor& wpe, const Tensor* wtt) {
  kernels::EmbeddingArgs a;
  a.B = as_int(out.size(0), "B");
  a.T = as_int(out.size(1), "T");
  a.C = as_int(out.size(2), "C");
  a.tokens = tokens.data_as<std::int32_t>();
  a.positions = positions.data_as<std::int32_t>();
  by_dtype("embedding", wte.dtype(), [&](auto zero) {
    using T = decltype(zero);
    kernels::embedding_forward_cpu(a, out_of<T>(out), in<T>(wte), in<T>(wpe), in_or_null<T>(wtt));
  });
}

void cpu_attention(Tensor& out, Tensor* probs, const AttentionInputs& inputs, std::int64_t H,
                   bool causal, const Tensor* key_mask) {
  by_dtype("attention", out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    kernels::AttentionArgs<T> a;
    a.B = as_int(out.size(0), "B");
    a.T = as_int(out.size(1), "T");
    a.H = as_int(H, "H");
    a.D = as_int(out.size(2) / H, "D");
    a.q = in<T>(*inputs.q) + inputs.q_col;
    a.k = in<T>(*inputs.k) + inputs.k_col;
    a.v = in<T>(*inputs.v) + inputs.v_col;
    a.row_stride = as_int(inputs.q->size(2), "row stride");
    a.out = out_of<T>(out);
    a.causal = causal;
    a.key_mask = key_mask ? key_mask->data_as<std::int32_t>() : nullptr;
    a.scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(a.D)));
    a.probs = probs ? out_of<T>(*probs) : nullptr;
    kernels::attention_forward_cpu(a);
  });
}

void cpu_attention_decode(Tensor& out, const Tensor& q, std::int64_t q_col, const Tensor& k,
                          const Tensor& v, std::int64_t past, std::int64_t H) {
  by_dtype("attention_decode", q.dtype(), [&](auto zero) {
    using T = decltype(zero);
    kernels::DecodeArgs<T> a;
    a.B = as_int(q.size(0), "B");
    a.Tq = as_int(q.size(1), "Tq");
    a.past = as_int(past, "past");
    a.H = as_int(H, "H");
    a.D = as_int(k.size(2) / H, "D");
    a.q = in<T>(q) + q_col;
    a.q_stride = as_int(q.size(2), "q stride");
    a.k_cache = in<T>(k);
    a.v_cache = in<T>(v);
    a.t_max = as_int(k.size(1), "t_max");
    a.out = out_of<T>(out);
    a.scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(a.D)));
    kernels::attention_decode_cpu(a);
  });
}

}  // namespace cugpt::ops::backend
