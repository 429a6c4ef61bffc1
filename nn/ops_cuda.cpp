// The cuda half of nn/ops. In a build without CUDA the kernels it calls say so.
#include <cmath>

#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/attention_decode.h"
#include "kernels/embedding.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/residual.h"
#include "nn/ops_backends.h"

namespace cugpt::ops::backend {

namespace {
void check_dtype(const char* op, DType t) {
  if (t != DType::f32 && t != DType::bf16 && t != DType::f16)
    throw Error(std::string(op) + ": the cuda device computes in f32, bf16 or f16, not " +
                dtype_name(t));
}
const char* at(const Tensor& t, std::int64_t elements) {
  return static_cast<const char*>(t.data()) +
         elements * static_cast<std::int64_t>(dtype_size(t.dtype()));
}
}  // namespace

bool fusable_in_gemm(kernels::Activation act) {
  return act != kernels::Activation::gelu_erf;
}

void cuda_linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor* bias, bool w_in_out,
                 const kernels::Activation* act, Tensor& workspace) {
  check_dtype("linear", x.dtype());
  kernels::Epilogue epi = kernels::Epilogue::none;
  if (act)
    epi =
        *act == kernels::Activation::relu ? kernels::Epilogue::relu : kernels::Epilogue::gelu_tanh;
  const std::int64_t IC = x.size(-1), OC = out.size(-1);
  kernels::matmul_forward_cuda(out.data(), x.data(), w.data(), bias ? bias->data() : nullptr,
                               as_int(x.numel() / IC, "rows"), as_int(IC, "IC"), as_int(OC, "OC"),
                               w_in_out, epi, x.dtype(), {workspace.data(), workspace.nbytes()},
                               nullptr);
}

void cuda_layernorm(Tensor& out, Tensor* sum, const Tensor& x, const Tensor* residual,
                    const Tensor& w, const Tensor& b, double eps) {
  check_dtype("layernorm", x.dtype());
  const std::int64_t C = x.size(-1);
  const int N = as_int(x.numel() / C, "rows");
  if (residual) {
    kernels::layernorm_residual_forward_cuda(
        sum->data(), out.data(), nullptr, nullptr, x.data(), residual->data(), w.data(), b.data(),
        N, as_int(C, "C"), static_cast<float>(eps), x.dtype(), nullptr);
  } else {
    kernels::layernorm_forward_cuda(out.data(), nullptr, nullptr, x.data(), w.data(), b.data(), N,
                                    as_int(C, "C"), static_cast<float>(eps), x.dtype(), nullptr);
  }
}

void cuda_activation(Tensor& out, const Tensor& x, kernels::Activation act) {
  check_dtype("activation", x.dtype());
  kernels::activation_forward_cuda(out.data(), x.data(), static_cast<std::size_t>(x.numel()), act,
                                   x.dtype(), nullptr);
}

void cuda_add(Tensor& out, const Tensor& a, const Tensor& b) {
  check_dtype("add", a.dtype());
  kernels::residual_forward_cuda(out.data(), a.data(), b.data(),
                                 static_cast<std::size_t>(a.numel()), a.dtype(), nullptr);
}

void cuda_embedding(Tensor& out, const Tensor& tokens, const Tensor& positions, const Tensor& wte,
                    const Tensor& wpe, const Tensor* wtt) {
  check_dtype("embedding", wte.dtype());
  kernels::EmbeddingArgs a;
  a.B = as_int(out.size(0), "B");
  a.T = as_int(out.size(1), "T");
  a.C = as_int(out.size(2), "C");
  a.tokens = static_cast<const std::int32_t*>(tokens.data());
  a.positions = static_cast<const std::int32_t*>(positions.data());
  kernels::embedding_forward_cuda(a, out.data(), wte.data(), wpe.data(),
                                  wtt ? wtt->data() : nullptr, wte.dtype(), nullptr);
}

void cuda_attention(Tensor& out, const AttentionInputs& in, std::int64_t H, bool causal,
                    const Tensor* key_mask) {
  check_dtype("attention", out.dtype());
  kernels::AttentionCudaArgs a;
  a.B = as_int(out.size(0), "B");
  a.T = as_int(out.size(1), "T");
  a.H = as_int(H, "H");
  a.D = as_int(out.size(2) / H, "D");
  a.q = at(*in.q, in.q_col);
  a.k = at(*in.k, in.k_col);
  a.v = at(*in.v, in.v_col);
  a.row_stride = as_int(in.q->size(2), "row stride");
  a.out = out.data();
  a.causal = causal;
  a.key_mask = key_mask ? static_cast<const std::int32_t*>(key_mask->data()) : nullptr;
  a.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(a.D)));
  a.dtype = out.dtype();
  kernels::attention_forward_cuda(a, nullptr);
}

void cuda_attention_decode(Tensor& out, const Tensor& q, std::int64_t q_col, const Tensor& k,
                           const Tensor& v, std::int64_t past, std::int64_t H) {
  check_dtype("attention_decode", q.dtype());
  kernels::DecodeCudaArgs a;
  a.B = as_int(q.size(0), "B");
  a.Tq = as_int(q.size(1), "Tq");
  a.past = as_int(past, "past");
  a.H = as_int(H, "H");
  a.D = as_int(k.size(2) / H, "D");
  a.q = at(q, q_col);
  a.q_stride = as_int(q.size(2), "q stride");
  a.k_cache = k.data();
  a.v_cache = v.data();
  a.t_max = as_int(k.size(1), "t_max");
  a.out = out.data();
  a.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(a.D)));
  a.dtype = q.dtype();
  kernels::attention_decode_cuda(a, nullptr);
}

}  // namespace cugpt::ops::backend
