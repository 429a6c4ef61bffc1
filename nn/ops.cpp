#include "nn/ops.h"

#include <cmath>

#include "kernels/attention.h"
#include "kernels/attention_decode.h"
#include "kernels/copy_rows.h"
#include "kernels/embedding.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/residual.h"

namespace cugpt::ops {

namespace {

enum class Path { meta, f32, f64 };

// Which code runs for tensors on this device in this dtype; every input must agree.
Path path_of(const char* op, const Tensor& x, std::initializer_list<const Tensor*> others) {
  for (const Tensor* t : others) {
    if (!t) continue;
    if (t->device() != x.device())
      throw Error(std::string(op) + ": inputs on " + x.device().str() + " and " +
                  t->device().str());
    if (t->dtype() != x.dtype())
      throw Error(std::string(op) + ": inputs in " + dtype_name(x.dtype()) + " and " +
                  dtype_name(t->dtype()));
  }
  if (x.device().is_meta()) return Path::meta;
  if (x.device().is_cuda())
    throw Error(std::string(op) + ": the CUDA forward path is not built yet; use --device cpu");
  if (x.dtype() == DType::f32) return Path::f32;
  if (x.dtype() == DType::f64) return Path::f64;
  throw Error(std::string(op) + ": the cpu device computes in f32 or f64, not " +
              dtype_name(x.dtype()));
}

template <typename T>
const T* cptr(const Tensor& t) {
  return static_cast<const T*>(t.data());
}
template <typename T>
T* mptr(Tensor& t) {
  return static_cast<T*>(t.data());
}
template <typename T>
const T* cptr_or_null(const Tensor* t) {
  return t ? cptr<T>(*t) : nullptr;
}

Tensor like(const Tensor& x, const Shape& shape) {
  return Tensor::empty(x.arena_ptr(), shape, x.dtype(), Category::activation);
}

Shape with_last(const Shape& s, std::int64_t last) {
  std::vector<std::int64_t> d = s.vec();
  d.back() = last;
  return Shape(d);
}

int as_int(std::int64_t v, const char* what) {
  if (v > (1ll << 31) - 1) throw Error(std::string(what) + " too large for a kernel launch");
  return static_cast<int>(v);
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& w, const Tensor* bias, bool w_in_out) {
  const Path p = path_of("linear", x, {&w, bias});
  if (w.ndim() != 2) throw Error("linear: weight " + w.shape().str() + " is not a matrix");
  const std::int64_t IC = w_in_out ? w.size(0) : w.size(1);
  const std::int64_t OC = w_in_out ? w.size(1) : w.size(0);
  if (x.size(-1) != IC)
    throw Error("linear: input " + x.shape().str() + " does not match weight " + w.shape().str());
  if (bias && bias->numel() != OC)
    throw Error("linear: bias " + bias->shape().str() + " for " + std::to_string(OC) + " outputs");
  Tensor out = like(x, with_last(x.shape(), OC));
  const int N = as_int(x.numel() / IC, "linear rows");
  if (p == Path::f32)
    kernels::matmul_forward_cpu(mptr<float>(out), cptr<float>(x), cptr<float>(w),
                                cptr_or_null<float>(bias), N, as_int(IC, "IC"), as_int(OC, "OC"),
                                w_in_out);
  if (p == Path::f64)
    kernels::matmul_forward_cpu(mptr<double>(out), cptr<double>(x), cptr<double>(w),
                                cptr_or_null<double>(bias), N, as_int(IC, "IC"), as_int(OC, "OC"),
                                w_in_out);
  return out;
}

Tensor layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  const Path p = path_of("layernorm", x, {&weight, &bias});
  const std::int64_t C = x.size(-1);
  if (weight.numel() != C || bias.numel() != C)
    throw Error("layernorm: parameters of " + std::to_string(weight.numel()) + " for width " +
                std::to_string(C));
  Tensor out = like(x, x.shape());
  const int N = as_int(x.numel() / C, "layernorm rows");
  if (p == Path::f32)
    kernels::layernorm_forward_cpu(mptr<float>(out), nullptr, nullptr, cptr<float>(x),
                                   cptr<float>(weight), cptr<float>(bias), N, as_int(C, "C"),
                                   static_cast<float>(eps));
  if (p == Path::f64)
    kernels::layernorm_forward_cpu(mptr<double>(out), nullptr, nullptr, cptr<double>(x),
                                   cptr<double>(weight), cptr<double>(bias), N, as_int(C, "C"),
                                   eps);
  return out;
}

Tensor activation(const Tensor& x, kernels::Activation act) {
  const Path p = path_of("activation", x, {});
  Tensor out = like(x, x.shape());
  const auto n = static_cast<std::size_t>(x.numel());
  if (p == Path::f32) kernels::activation_forward_cpu(mptr<float>(out), cptr<float>(x), n, act);
  if (p == Path::f64) kernels::activation_forward_cpu(mptr<double>(out), cptr<double>(x), n, act);
  return out;
}

Tensor add(const Tensor& a, const Tensor& b) {
  const Path p = path_of("add", a, {&b});
  if (a.shape() != b.shape())
    throw Error("add: shapes " + a.shape().str() + " and " + b.shape().str());
  Tensor out = like(a, a.shape());
  const auto n = static_cast<std::size_t>(a.numel());
  if (p == Path::f32)
    kernels::residual_forward_cpu(mptr<float>(out), cptr<float>(a), cptr<float>(b), n);
  if (p == Path::f64)
    kernels::residual_forward_cpu(mptr<double>(out), cptr<double>(a), cptr<double>(b), n);
  return out;
}

Tensor embedding(const std::vector<std::int32_t>& tokens,
                 const std::vector<std::int32_t>& positions, std::int64_t B, std::int64_t T,
                 const Tensor& wte, const Tensor& wpe, const Tensor* wtt) {
  const Path p = path_of("embedding", wte, {&wpe, wtt});
  const std::int64_t C = wte.size(1);
  if (wpe.size(1) != C || (wtt && wtt->size(1) != C))
    throw Error("embedding: tables of different widths");
  if (static_cast<std::int64_t>(tokens.size()) != B * T ||
      static_cast<std::int64_t>(positions.size()) != B * T)
    throw Error("embedding: " + std::to_string(tokens.size()) + " ids for a batch of " +
                std::to_string(B) + "x" + std::to_string(T));
  Tensor out = like(wte, {B, T, C});
  kernels::EmbeddingArgs a;
  a.B = as_int(B, "B");
  a.T = as_int(T, "T");
  a.C = as_int(C, "C");
  a.tokens = tokens.data();
  a.positions = positions.data();
  if (p == Path::f32)
    kernels::embedding_forward_cpu(a, mptr<float>(out), cptr<float>(wte), cptr<float>(wpe),
                                   cptr_or_null<float>(wtt));
  if (p == Path::f64)
    kernels::embedding_forward_cpu(a, mptr<double>(out), cptr<double>(wte), cptr<double>(wpe),
                                   cptr_or_null<double>(wtt));
  return out;
}

namespace {
template <typename T>
void run_attention(const AttentionInputs& in, Tensor& out, Tensor* probs, std::int64_t C,
                   std::int64_t H, bool causal, const std::vector<std::int32_t>* key_mask) {
  kernels::AttentionArgs<T> a;
  a.B = as_int(in.q->size(0), "B");
  a.T = as_int(in.q->size(1), "T");
  a.H = as_int(H, "H");
  a.D = as_int(C / H, "D");
  a.q = cptr<T>(*in.q) + in.q_col;
  a.k = cptr<T>(*in.k) + in.k_col;
  a.v = cptr<T>(*in.v) + in.v_col;
  a.row_stride = as_int(in.q->size(2), "row stride");
  a.out = mptr<T>(out);
  a.causal = causal;
  a.key_mask = key_mask ? key_mask->data() : nullptr;
  a.scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(a.D)));
  a.probs = probs ? mptr<T>(*probs) : nullptr;
  kernels::attention_forward_cpu(a);
}
}  // namespace

Tensor attention(const AttentionInputs& in, std::int64_t C, std::int64_t H, bool causal,
                 const std::vector<std::int32_t>* key_mask, Tensor* probs) {
  const Path p = path_of("attention", *in.q, {in.k, in.v});
  const Shape& s = in.q->shape();
  if (s.ndim() != 3 || in.k->shape() != s || in.v->shape() != s)
    throw Error("attention: q, k, v must be (B, T, W) buffers of one shape");
  if (C % H != 0) throw Error("attention: width not divisible by the heads");
  for (std::int64_t col : {in.q_col, in.k_col, in.v_col})
    if (col < 0 || col + C > s[2]) throw Error("attention: head columns outside the buffer");
  const std::int64_t B = s[0], T = s[1];
  if (key_mask && static_cast<std::int64_t>(key_mask->size()) != B * T)
    throw Error("attention: mask of " + std::to_string(key_mask->size()) + " for " +
                std::to_string(B * T) + " tokens");
  Tensor out = like(*in.q, {B, T, C});
  if (probs) *probs = like(*in.q, {B, H, T, T});
  if (p == Path::f32) run_attention<float>(in, out, probs, C, H, causal, key_mask);
  if (p == Path::f64) run_attention<double>(in, out, probs, C, H, causal, key_mask);
  return out;
}

Tensor last_position(const Tensor& x) {
  const Path p = path_of("last_position", x, {});
  const std::int64_t B = x.size(0), T = x.size(1), C = x.size(2);
  Tensor out = like(x, {B, 1, C});
  if (p == Path::meta) return out;
  const std::size_t row = static_cast<std::size_t>(C) * dtype_size(x.dtype());
  kernels::copy_rows_cpu(out.data(), row,
                         static_cast<const unsigned char*>(x.data()) + (T - 1) * row, T * row, row,
                         static_cast<std::size_t>(B));
  return out;
}

void write_cache(Tensor& cache, std::int64_t past, const Tensor& src, std::int64_t col) {
  const Path p = path_of("write_cache", src, {&cache});
  const std::int64_t B = src.size(0), Tq = src.size(1), W = src.size(2);
  const std::int64_t t_max = cache.size(1), C = cache.size(2);
  if (cache.size(0) != B || past < 0 || past + Tq > t_max || col < 0 || col + C > W)
    throw Error("write_cache: " + std::to_string(Tq) + " rows at " + std::to_string(past) +
                " do not fit a cache " + cache.shape().str());
  if (p == Path::meta) return;
  const std::size_t es = dtype_size(src.dtype());
  for (std::int64_t b = 0; b < B; ++b) {
    auto* dst = static_cast<unsigned char*>(cache.data()) + (b * t_max + past) * C * es;
    const auto* from = static_cast<const unsigned char*>(src.data()) + (b * Tq * W + col) * es;
    kernels::copy_rows_cpu(dst, C * es, from, W * es, C * es, Tq);
  }
}

namespace {
template <typename T>
void run_decode(const Tensor& q, std::int64_t q_col, const Tensor& k, const Tensor& v,
                std::int64_t past, std::int64_t H, Tensor& out) {
  kernels::DecodeArgs<T> a;
  a.B = as_int(q.size(0), "B");
  a.Tq = as_int(q.size(1), "Tq");
  a.past = as_int(past, "past");
  a.H = as_int(H, "H");
  a.D = as_int(k.size(2) / H, "D");
  a.q = cptr<T>(q) + q_col;
  a.q_stride = as_int(q.size(2), "q stride");
  a.k_cache = cptr<T>(k);
  a.v_cache = cptr<T>(v);
  a.t_max = as_int(k.size(1), "t_max");
  a.out = mptr<T>(out);
  a.scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(a.D)));
  kernels::attention_decode_cpu(a);
}
}  // namespace

Tensor attention_decode(const Tensor& q, std::int64_t q_col, const Tensor& k_cache,
                        const Tensor& v_cache, std::int64_t past, std::int64_t H) {
  const Path p = path_of("attention_decode", q, {&k_cache, &v_cache});
  const std::int64_t B = q.size(0), Tq = q.size(1), C = k_cache.size(2);
  if (k_cache.shape() != v_cache.shape() || k_cache.size(0) != B || C % H != 0 ||
      past + Tq > k_cache.size(1) || q_col + C > q.size(2))
    throw Error("attention_decode: queries " + q.shape().str() + " do not match the cache " +
                k_cache.shape().str());
  Tensor out = like(q, {B, Tq, C});
  if (p == Path::f32) run_decode<float>(q, q_col, k_cache, v_cache, past, H, out);
  if (p == Path::f64) run_decode<double>(q, q_col, k_cache, v_cache, past, H, out);
  return out;
}

}  // namespace cugpt::ops
