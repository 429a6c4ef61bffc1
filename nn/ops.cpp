#include "nn/ops.h"

#include "kernels/ln_gemv.h"
#include "kernels/matmul.h"
#include "nn/backend.h"
#include "nn/backend_util.h"

namespace cugpt::ops {

using namespace detail;

namespace {

// Checks that every input shares x's device and dtype.
void check_same(const char* op, const Tensor& x, std::initializer_list<const Tensor*> others) {
  for (const Tensor* t : others) {
    if (!t) continue;
    if (t->device() != x.device())
      throw Error(std::string(op) + ": inputs on " + x.device().str() + " and " +
                  t->device().str());
    if (t->dtype() != x.dtype())
      throw Error(std::string(op) + ": inputs in " + dtype_name(x.dtype()) + " and " +
                  dtype_name(t->dtype()));
  }
}

// ... and returns x's backend after checking that it computes x's dtype (null on meta).
const Backend* backend_of(const char* op, const Tensor& x,
                          std::initializer_list<const Tensor*> others) {
  check_same(op, x, others);
  return backend_for(op, x);
}

// An i32 tensor of at least `n` elements on `like`'s device (device-held ids and positions).
void check_ids(const char* op, const char* what, const Tensor& t, const Tensor& like,
               std::int64_t n) {
  if (t.dtype() != DType::i32 || t.device() != like.device() || t.numel() < n)
    throw Error(std::string(op) + ": " + what + " must be " + std::to_string(n) + " i32 on " +
                like.device().str() + ", not " + t.shape().str() + " " + dtype_name(t.dtype()) +
                " on " + t.device().str());
}

Shape with_last(const Shape& s, std::int64_t last) {
  std::vector<std::int64_t> d = s.vec();
  d.back() = last;
  return Shape(d);
}

// Whether the activation runs inside the GEMM's epilogue (cuBLASLt has relu and gelu_tanh; the
// cpu applies those in place), decided alike for every device so that all allocate alike.
bool fusable_in_gemm(kernels::Activation act) {
  return kernels::gemm_epilogue(act) != kernels::Epilogue::none;
}

Tensor linear_impl(const Tensor& x, const Tensor& w, const Tensor* bias, bool w_in_out,
                   const kernels::Activation* act, std::int64_t pitch,
                   const Tensor* residual = nullptr) {
  const Backend* b = backend_of("linear", x, {&w, bias, residual});
  if (w.ndim() != 2) throw Error("linear: weight " + w.shape().str() + " is not a matrix");
  const std::int64_t IC = w_in_out ? w.size(0) : w.size(1);
  const std::int64_t OC = w_in_out ? w.size(1) : w.size(0);
  if (x.size(-1) != IC)
    throw Error("linear: input " + x.shape().str() + " does not match weight " + w.shape().str());
  if (bias && bias->numel() != OC)
    throw Error("linear: bias " + bias->shape().str() + " for " + std::to_string(OC) + " outputs");
  if (pitch == 0) pitch = OC;
  if (pitch < OC)
    throw Error("linear: a row pitch of " + std::to_string(pitch) + " for " + std::to_string(OC) +
                " outputs");
  Tensor out = like(x, with_last(x.shape(), pitch));
  if (residual && (residual->shape() != out.shape() || act || pitch != OC))
    throw Error("linear: a residual " + residual->shape().str() + " for an output " +
                out.shape().str() + (act ? " with an activation" : ""));
  // cuBLASLt's workspace lives in the arena like every other byte; the cpu reserves it too so
  // that all devices allocate alike (untouched cpu pages cost nothing).
  Tensor ws = workspace(x, kernels::kMatmulWorkspaceBytes / 4, DType::f32);
  const bool fused = act && fusable_in_gemm(*act);
  if (b) b->linear(out, x, w, bias, w_in_out, fused ? act : nullptr, ws, residual);
  ws = Tensor();
  if (act && !fused) return activation(out, *act);
  return out;
}

// ln_linear's shape checks; N, the output width.
std::int64_t ln_linear_width(const char* op, const Tensor& x, const Tensor& weight,
                             const Tensor& bias, const Tensor& w, const Tensor* w_bias,
                             bool w_in_out) {
  const std::int64_t K = x.size(-1);
  const std::int64_t N = w.ndim() == 2 ? w.size(w_in_out ? 1 : 0) : 0;
  if (w.ndim() != 2 || w.size(w_in_out ? 0 : 1) != K || weight.numel() != K || bias.numel() != K ||
      (w_bias && w_bias->numel() != N))
    throw Error(std::string(op) + ": input " + x.shape().str() + ", LayerNorm " +
                weight.shape().str() + " and weight " + w.shape().str() + " do not match");
  return N;
}

// The fused op's output (or, with keys, the logits the cpu forms in its place) and its run.
Tensor ln_linear_run(const Backend* b, const Tensor& x, const Tensor& weight, const Tensor& bias,
                     double eps, const LinearParts& parts, bool w_in_out, std::int64_t N,
                     const kernels::Activation* act, Tensor* keys) {
  const std::int64_t K = x.size(-1), rows = x.numel() / K;
  Tensor out = like(x, with_last(x.shape(), N));
  // Both devices' scratch, allocated alike on every device: the normalised rows (cpu) and the
  // K-split partials (cuda).
  const std::size_t split =
      x.dtype() == DType::f64  // the cpu's reference dtype: no cuda kernel
          ? 0
          : kernels::ln_gemv_workspace_bytes(static_cast<int>(rows), static_cast<int>(K),
                                             static_cast<int>(N), x.dtype(), w_in_out);
  const std::int64_t bytes = static_cast<std::int64_t>(split) +
                             rows * K * static_cast<std::int64_t>(dtype_size(x.dtype()));
  Tensor ws = workspace(x, (bytes + 3) / 4, DType::i32);
  if (b) b->ln_linear(out, x, weight, bias, eps, parts, w_in_out, ws, act, keys);
  return out;
}

static_assert(sizeof(LinearParts::w) / sizeof(LinearParts::w[0]) == kernels::kLnGemvMaxParts,
              "LinearParts holds what the kernel takes");

LinearParts one_part(const Tensor& w, const Tensor* bias) {
  LinearParts p;
  p.w[0] = &w, p.bias[0] = bias, p.count = 1;
  return p;
}

}  // namespace

Tensor ln_linear(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                 const Tensor& w, const Tensor* w_bias, bool w_in_out,
                 const kernels::Activation* act) {
  const Backend* b = backend_of("ln_linear", x, {&weight, &bias, &w, w_bias});
  const std::int64_t N = ln_linear_width("ln_linear", x, weight, bias, w, w_bias, w_in_out);
  // Beyond decode-sized batches the GEMM is the better kernel: the two ops, on every device.
  if (x.numel() / x.size(-1) > kernels::kLnGemvOnePassRows) {
    const Tensor normed = layernorm(x, weight, bias, eps);
    return act ? linear_act(normed, w, w_bias, w_in_out, *act)
               : linear(normed, w, w_bias, w_in_out);
  }
  return ln_linear_run(b, x, weight, bias, eps, one_part(w, w_bias), w_in_out, N, act, nullptr);
}

Tensor ln_linear_parts(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                       const LinearParts& parts) {
  if (parts.count < 1 || parts.count > kernels::kLnGemvMaxParts)
    throw Error("ln_linear_parts: " + std::to_string(parts.count) + " weights (1 to " +
                std::to_string(kernels::kLnGemvMaxParts) + ")");
  const Backend* b = backend_of("ln_linear_parts", x, {&weight, &bias});
  std::int64_t Np = 0;
  for (int i = 0; i < parts.count; ++i) {
    if (!parts.w[i]) throw Error("ln_linear_parts: weight " + std::to_string(i) + " is missing");
    check_same("ln_linear_parts", x, {parts.w[i], parts.bias[i]});
    const std::int64_t n =
        ln_linear_width("ln_linear_parts", x, weight, bias, *parts.w[i], parts.bias[i], false);
    if (i > 0 && n != Np)
      throw Error("ln_linear_parts: weights of " + std::to_string(Np) + " and " +
                  std::to_string(n) + " outputs");
    Np = n;
  }
  const std::int64_t rows = x.numel() / x.size(-1);
  if (rows > kernels::kLnGemvOnePassRows)
    throw Error("ln_linear_parts: " + std::to_string(rows) + " rows (the fused product takes " +
                std::to_string(kernels::kLnGemvOnePassRows) + ")");
  return ln_linear_run(b, x, weight, bias, eps, parts, false, parts.count * Np, nullptr, nullptr);
}

bool ln_linear_argmax_fits(std::int64_t rows, std::int64_t K, std::int64_t N, DType dtype,
                           bool w_in_out) {
  const std::int64_t limit = std::int64_t{1} << 30;
  if (rows <= 0 || rows > kernels::kLnGemvOnePassRows || dtype == DType::f64 || K <= 0 ||
      K > limit || N <= 0 || N > limit)
    return false;
  return kernels::ln_gemv_argmax_fits(static_cast<int>(rows), static_cast<int>(K),
                                      static_cast<int>(N), dtype, w_in_out);
}

void ln_linear_argmax(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                      const Tensor& w, const Tensor* w_bias, bool w_in_out, Tensor& keys) {
  const Backend* b = backend_of("ln_linear_argmax", x, {&weight, &bias, &w, w_bias});
  const std::int64_t N = ln_linear_width("ln_linear_argmax", x, weight, bias, w, w_bias, w_in_out);
  const std::int64_t rows = x.numel() / x.size(-1);
  check_ids("ln_linear_argmax", "the keys", keys, x, 2 * rows);
  if (!ln_linear_argmax_fits(rows, x.size(-1), N, x.dtype(), w_in_out))
    throw Error("ln_linear_argmax: " + std::to_string(rows) + " rows of " + x.shape().str() +
                " times " + w.shape().str() + " in " + dtype_name(x.dtype()) +
                " need the unfused head (over " + std::to_string(kernels::kLnGemvOnePassRows) +
                " rows, f64, or K split)");
  ln_linear_run(b, x, weight, bias, eps, one_part(w, w_bias), w_in_out, N, nullptr, &keys);
}

void argmax_ids(Tensor& ids, Tensor& keys, std::int64_t V) {
  const std::int64_t B = ids.numel();
  check_ids("argmax_ids", "ids", ids, keys, B);
  check_ids("argmax_ids", "the keys", keys, keys, 2 * B);
  if (V <= 0 || V > (std::int64_t{1} << 30))
    throw Error("argmax_ids: " + std::to_string(V) + " ids");
  if (const Backend* b = byte_backend(ids)) b->argmax_ids(ids, keys, V);
}

Tensor linear_add(const Tensor& x, const Tensor& w, const Tensor* bias, bool w_in_out,
                  const Tensor& residual) {
  return linear_impl(x, w, bias, w_in_out, nullptr, 0, &residual);
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor* bias, bool w_in_out,
              std::int64_t pitch) {
  return linear_impl(x, w, bias, w_in_out, nullptr, pitch);
}

Tensor linear_act(const Tensor& x, const Tensor& w, const Tensor* bias, bool w_in_out,
                  kernels::Activation act) {
  return linear_impl(x, w, bias, w_in_out, &act, 0);
}

Tensor layernorm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  const Backend* b = backend_of("layernorm", x, {&weight, &bias});
  const std::int64_t C = x.size(-1);
  if (weight.numel() != C || bias.numel() != C)
    throw Error("layernorm: parameters of " + std::to_string(weight.numel()) + " for width " +
                std::to_string(C));
  Tensor out = like(x, x.shape());
  if (b) b->layernorm(out, nullptr, nullptr, x, weight, bias, eps);
  return out;
}

AddNorm add_layernorm(const Tensor& x, const Tensor& r, const Tensor& weight, const Tensor& bias,
                      double eps) {
  const Backend* b = backend_of("add_layernorm", x, {&r, &weight, &bias});
  if (x.shape() != r.shape() || weight.numel() != x.size(-1) || bias.numel() != x.size(-1))
    throw Error("add_layernorm: shapes " + x.shape().str() + " and " + r.shape().str());
  AddNorm out{like(x, x.shape()), like(x, x.shape())};
  if (b) b->add_layernorm(out.sum, out.normed, x, r, weight, bias, eps);
  return out;
}

Tensor activation(const Tensor& x, kernels::Activation act) {
  const Backend* b = backend_of("activation", x, {});
  Tensor out = like(x, x.shape());
  if (b) b->activation(out, x, act);
  return out;
}

Tensor add(const Tensor& a, const Tensor& b) {
  const Backend* be = backend_of("add", a, {&b});
  if (a.shape() != b.shape())
    throw Error("add: shapes " + a.shape().str() + " and " + b.shape().str());
  Tensor out = like(a, a.shape());
  if (be) be->add(out, a, b);
  return out;
}

Tensor embedding(const std::vector<std::int32_t>& tokens,
                 const std::vector<std::int32_t>& positions, std::int64_t B, std::int64_t T,
                 const Tensor& wte, const Tensor& wpe, const Tensor* wtt) {
  const Backend* b = backend_of("embedding", wte, {&wpe, wtt});
  const std::int64_t C = wte.size(1);
  if (wpe.size(1) != C || (wtt && wtt->size(1) != C))
    throw Error("embedding: tables of different widths");
  if (static_cast<std::int64_t>(tokens.size()) != B * T ||
      static_cast<std::int64_t>(positions.size()) != B * T)
    throw Error("embedding: " + std::to_string(tokens.size()) + " ids for a batch of " +
                std::to_string(B) + "x" + std::to_string(T));
  Tensor out = like(wte, {B, T, C});
  const Tensor tok = ids_on(wte, tokens), pos = ids_on(wte, positions);
  if (b) b->embedding(out, tok, pos, wte, wpe, wtt);
  return out;
}

Tensor embedding(const Tensor& tokens, const Tensor& positions, std::int64_t B, std::int64_t T,
                 const Tensor& wte, const Tensor& wpe, const Tensor* wtt) {
  const Backend* b = backend_of("embedding", wte, {&wpe, wtt});
  if (wpe.size(1) != wte.size(1) || (wtt && wtt->size(1) != wte.size(1)))
    throw Error("embedding: tables of different widths");
  check_ids("embedding", "tokens", tokens, wte, B * T);
  check_ids("embedding", "positions", positions, wte, B * T);
  Tensor out = like(wte, {B, T, wte.size(1)});
  if (b) b->embedding(out, tokens, positions, wte, wpe, wtt);
  return out;
}

Tensor attention(const AttentionInputs& in, std::int64_t C, std::int64_t H, bool causal,
                 const std::vector<std::int32_t>* key_mask, Tensor* probs) {
  const Backend* b = backend_of("attention", *in.q, {in.k, in.v});
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
  if (probs && !in.q->device().is_cpu())
    throw Error("attention: probabilities are captured on the cpu device only for now");
  Tensor out = like(*in.q, {B, T, C});
  if (probs) *probs = like(*in.q, {B, H, T, T});
  const Tensor mask = key_mask ? ids_on(out, *key_mask) : Tensor();
  if (b) b->attention(out, probs, in, H, causal, key_mask ? &mask : nullptr);
  return out;
}

namespace {
// Byte copies: any dtype (no compute), nothing on meta.
void copy_rows(Tensor& dst, std::size_t dst_offset, std::size_t dst_pitch, const Tensor& src,
               std::size_t src_offset, std::size_t src_pitch, std::size_t row_bytes,
               std::size_t rows) {
  const Backend* b = byte_backend(dst);
  if (!b) return;
  b->copy_rows(static_cast<unsigned char*>(dst.data()) + dst_offset, dst_pitch,
               static_cast<const unsigned char*>(src.data()) + src_offset, src_pitch, row_bytes,
               rows);
}
}  // namespace

Tensor last_position(const Tensor& x) {
  check_same("last_position", x, {});
  const std::int64_t B = x.size(0), T = x.size(1), C = x.size(2);
  Tensor out = like(x, {B, 1, C});
  const std::size_t row = static_cast<std::size_t>(C) * dtype_size(x.dtype());
  copy_rows(out, 0, row, x, (T - 1) * row, T * row, row, static_cast<std::size_t>(B));
  return out;
}

namespace {
// The byte range of rows [begin, begin + count) of x taken as (rows, C); throws when outside.
std::size_t row_range(const char* op, const Tensor& x, std::int64_t begin, std::int64_t count) {
  const std::int64_t C = x.size(-1), N = x.numel() / C;
  if (begin < 0 || count < 0 || begin > N || count > N - begin)
    throw Error(std::string(op) + ": rows [" + std::to_string(begin) + ", " +
                std::to_string(begin + count) + ") of " + std::to_string(N));
  return static_cast<std::size_t>(C) * dtype_size(x.dtype());
}
}  // namespace

Tensor rows(const Tensor& x, std::int64_t begin, std::int64_t count) {
  check_same("rows", x, {});
  const std::size_t row = row_range("rows", x, begin, count);
  Tensor out = like(x, {count, x.size(-1)});
  if (count == 0) return out;
  copy_rows(out, 0, row, x, static_cast<std::size_t>(begin) * row, row, row,
            static_cast<std::size_t>(count));
  return out;
}

void write_rows(Tensor& dst, std::int64_t begin, const Tensor& src) {
  check_same("write_rows", dst, {&src});
  if (src.size(-1) != dst.size(-1))
    throw Error("write_rows: rows of " + src.shape().str() + " into " + dst.shape().str());
  const std::int64_t count = src.numel() / src.size(-1);
  const std::size_t row = row_range("write_rows", dst, begin, count);
  if (count == 0) return;
  copy_rows(dst, static_cast<std::size_t>(begin) * row, row, src, 0, row, row,
            static_cast<std::size_t>(count));
}

void write_cache(Tensor& cache, std::int64_t past, const Tensor& src, std::int64_t col) {
  check_same("write_cache", src, {&cache});
  const std::int64_t B = src.size(0), Tq = src.size(1), W = src.size(2);
  const std::int64_t t_max = cache.size(1), C = cache.size(2);
  if (cache.size(0) != B || past < 0 || past + Tq > t_max || col < 0 || col + C > W)
    throw Error("write_cache: " + std::to_string(Tq) + " rows at " + std::to_string(past) +
                " do not fit a cache " + cache.shape().str());
  const std::size_t es = dtype_size(src.dtype());
  for (std::int64_t b = 0; b < B; ++b)
    copy_rows(cache, (b * t_max + past) * C * es, C * es, src, (b * Tq * W + col) * es, W * es,
              C * es, Tq);
}

void write_cache_at(Tensor& cache, const Tensor& past, const Tensor& src, std::int64_t col) {
  check_same("write_cache", src, {&cache});
  check_ids("write_cache", "the cached length", past, cache, 1);
  const std::int64_t B = src.size(0), Tq = src.size(1), W = src.size(2);
  const std::int64_t t_max = cache.size(1), C = cache.size(2);
  if (cache.size(0) != B || Tq > t_max || col < 0 || col + C > W)
    throw Error("write_cache: " + std::to_string(Tq) + " rows of " + src.shape().str() +
                " do not fit a cache " + cache.shape().str());
  if (const Backend* b = byte_backend(cache)) b->cache_write(cache, src, col, past);
}

void advance_positions(Tensor& positions, std::int32_t delta) {
  check_ids("advance_positions", "positions", positions, positions, 0);
  if (const Backend* b = byte_backend(positions)) b->advance_positions(positions, delta);
}

namespace {
Tensor decode_impl(const Tensor& q, std::int64_t q_col, const Tensor& k_cache,
                   const Tensor& v_cache, std::int64_t past, std::int64_t H,
                   const Tensor* past_device, const NewKv* new_kv) {
  const Backend* b = backend_of("attention_decode", q, {&k_cache, &v_cache});
  if (past_device) check_ids("attention_decode", "the cached length", *past_device, q, 1);
  const std::int64_t B = q.size(0), Tq = q.size(1), C = k_cache.size(2);
  if (k_cache.shape() != v_cache.shape() || k_cache.size(0) != B || C % H != 0 ||
      past + Tq > k_cache.size(1) || q_col + C > q.size(2))
    throw Error("attention_decode: queries " + q.shape().str() + " do not match the cache " +
                k_cache.shape().str());
  Tensor out = like(q, {B, Tq, C});
  if (b) b->attention_decode(out, q, q_col, k_cache, v_cache, past, past_device, H, new_kv);
  return out;
}
}  // namespace

Tensor attention_decode(const Tensor& q, std::int64_t q_col, const Tensor& k_cache,
                        const Tensor& v_cache, std::int64_t past, std::int64_t H,
                        const Tensor* past_device) {
  return decode_impl(q, q_col, k_cache, v_cache, past, H, past_device, nullptr);
}

Tensor attention_decode_writing(Tensor& k_cache, Tensor& v_cache, const NewKv& new_kv,
                                const Tensor& q, std::int64_t q_col, std::int64_t past,
                                const Tensor& past_device, std::int64_t H) {
  const std::int64_t C = k_cache.size(2);
  for (const auto& [t, col] :
       {std::pair{new_kv.k, new_kv.k_col}, std::pair{new_kv.v, new_kv.v_col}}) {
    check_same("attention_decode", q, {t});
    if (t->ndim() != 3 || t->size(0) != q.size(0) || t->size(1) != 1 || col < 0 ||
        col + C > t->size(2))
      throw Error("attention_decode: a new key or value " + t->shape().str() + " at column " +
                  std::to_string(col) + " for a cache " + k_cache.shape().str());
  }
  if (q.size(1) != 1)
    throw Error("attention_decode: a new key and value are written for one query per row, not " +
                std::to_string(q.size(1)));
  return decode_impl(q, q_col, k_cache, v_cache, past, H, &past_device, &new_kv);
}

}  // namespace cugpt::ops
