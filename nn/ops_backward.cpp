#include "nn/ops_backward.h"

#include <cmath>
#include <string>

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

// Where the backward runs: the cpu kernels (f32, f64), the CUDA kernels (f32, bf16, f16), or
// nowhere (meta: allocation only). Every device allocates the same tensors before this is
// asked, so a meta run predicts the others byte for byte.
enum class Where { none, cpu, cuda };

Where where(const char* op, const Tensor& x) {
  if (x.device().is_meta()) return Where::none;
  if (x.device().is_cuda()) {
    if (x.dtype() != DType::f32 && x.dtype() != DType::bf16 && x.dtype() != DType::f16)
      throw Error(std::string(op) + ": the cuda device trains in f32, bf16 or f16, not " +
                  dtype_name(x.dtype()));
    return Where::cuda;
  }
  if (x.dtype() != DType::f32 && x.dtype() != DType::f64)
    throw Error(std::string(op) + ": the cpu device trains in f32 or f64, not " +
                dtype_name(x.dtype()));
  return Where::cpu;
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
void* ptr_or_null(Tensor* t) {
  return t ? t->data() : nullptr;
}
// Element `elements` of t as a device or host address.
const void* at(const Tensor& t, std::int64_t elements) {
  return static_cast<const char*>(t.data()) +
         elements * static_cast<std::int64_t>(dtype_size(t.dtype()));
}
void* at(Tensor& t, std::int64_t elements) {
  return static_cast<char*>(t.data()) + elements * static_cast<std::int64_t>(dtype_size(t.dtype()));
}

Tensor like(const Tensor& x, const Shape& s, DType dtype) {
  return Tensor::empty(x.arena_ptr(), s, dtype, Category::activation);
}
Tensor workspace(const Tensor& x, std::int64_t n, DType dtype) {
  return Tensor::empty(x.arena_ptr(), {n}, dtype, Category::workspace);
}
// Statistics and losses: f32, or f64 beside f64 references (as layernorm_train keeps them).
DType stat_dtype(const Tensor& x) {
  return x.dtype() == DType::f64 ? DType::f64 : DType::f32;
}

// Host ids as an i32 tensor, allocated on every device (data copied where there is memory).
Tensor ids_on(const Tensor& like_device, const std::vector<std::int32_t>& ids) {
  Tensor t = Tensor::empty(like_device.arena_ptr(), {static_cast<std::int64_t>(ids.size())},
                           DType::i32, Category::activation);
  if (!t.device().is_meta() && !ids.empty())
    t.copy_from_host(ids.data(), ids.size() * sizeof(std::int32_t));
  return t;
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

// The fused loss on cuda: per-row f32 losses on the device, summed on the host in double (row
// order, so the total is reproducible).
double cuda_cross_entropy(Tensor& losses, Tensor* dlogits, const Tensor& logits,
                          const std::vector<std::int32_t>& targets, const Tensor& device_targets,
                          std::int32_t ignore_index, double grad_scale) {
  const std::int64_t V = logits.size(-1), N = logits.numel() / V;
  check_targets(targets, V, ignore_index);
  kernels::cross_entropy_forward_backward_cuda(
      static_cast<float*>(losses.data()), ptr_or_null(dlogits), logits.data(),
      static_cast<const std::int32_t*>(device_targets.data()), as_int(N, "rows"), as_int(V, "V"),
      ignore_index, static_cast<float>(grad_scale), logits.dtype(), nullptr);
  std::vector<float> host(static_cast<std::size_t>(N));
  losses.copy_to_host(host.data(), host.size() * sizeof(float));
  double total = 0;
  for (float l : host) total += l;
  return total;
}

}  // namespace

Tensor linear_backward(const Tensor& dout, const Tensor& x, const Tensor& w, Tensor* dw, Tensor* db,
                       bool w_in_out, bool need_dx) {
  const std::int64_t IC = x.size(-1), OC = dout.size(-1);
  Tensor dx = need_dx ? like(x, x.shape(), x.dtype()) : Tensor();
  // The GEMMs' workspace, reserved on every device as the forward does.
  Tensor ws =
      workspace(x, static_cast<std::int64_t>(kernels::kMatmulWorkspaceBytes / 4), DType::f32);
  const int N = as_int(x.numel() / IC, "rows");
  switch (where("linear_backward", x)) {
    case Where::none:
      break;
    case Where::cpu:
      by_dtype(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        kernels::matmul_backward_cpu(need_dx ? out<T>(dx) : nullptr, out_or_null<T>(dw),
                                     out_or_null<T>(db), in<T>(dout), in<T>(x), in<T>(w), N,
                                     as_int(IC, "IC"), as_int(OC, "OC"), w_in_out);
      });
      break;
    case Where::cuda:
      kernels::matmul_backward_cuda(need_dx ? dx.data() : nullptr, ptr_or_null(dw), ptr_or_null(db),
                                    dout.data(), x.data(), w.data(), N, as_int(IC, "IC"),
                                    as_int(OC, "OC"), w_in_out, x.dtype(), {ws.data(), ws.nbytes()},
                                    nullptr);
      break;
  }
  return dx;
}

NormOut layernorm_train(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  const std::int64_t C = x.size(-1), N = x.numel() / C;
  // Statistics in f32 (f64 for f64 references), as the CUDA kernel keeps them.
  const DType stat = stat_dtype(x);
  NormOut r{like(x, x.shape(), x.dtype()), like(x, {N}, stat), like(x, {N}, stat)};
  switch (where("layernorm", x)) {
    case Where::none:
      break;
    case Where::cpu:
      by_dtype(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        kernels::layernorm_forward_cpu(out<T>(r.out), out<T>(r.mean), out<T>(r.rstd), in<T>(x),
                                       in<T>(weight), in<T>(bias), as_int(N, "rows"),
                                       as_int(C, "C"), static_cast<T>(eps));
      });
      break;
    case Where::cuda:
      kernels::layernorm_forward_cuda(r.out.data(), static_cast<float*>(r.mean.data()),
                                      static_cast<float*>(r.rstd.data()), x.data(), weight.data(),
                                      bias.data(), as_int(N, "rows"), as_int(C, "C"),
                                      static_cast<float>(eps), x.dtype(), nullptr);
      break;
  }
  return r;
}

Tensor layernorm_backward(const Tensor& dout, const Tensor& x, const Tensor& weight,
                          const Tensor& mean, const Tensor& rstd, Tensor& dweight, Tensor& dbias) {
  const std::int64_t C = x.size(-1);
  const int N = as_int(x.numel() / C, "rows");
  Tensor dx = like(x, x.shape(), x.dtype());
  // The CUDA kernel's per-chunk partial sums of the parameter gradients (no atomics).
  Tensor ws = workspace(
      x, static_cast<std::int64_t>(kernels::layernorm_backward_workspace_floats(N, as_int(C, "C"))),
      DType::f32);
  switch (where("layernorm_backward", x)) {
    case Where::none:
      break;
    case Where::cpu:
      by_dtype(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        kernels::layernorm_backward_cpu(out<T>(dx), out<T>(dweight), out<T>(dbias), in<T>(dout),
                                        in<T>(x), in<T>(weight), in<T>(mean), in<T>(rstd), N,
                                        as_int(C, "C"));
      });
      break;
    case Where::cuda:
      kernels::layernorm_backward_cuda(
          dx.data(), dweight.data(), dbias.data(), dout.data(), x.data(), weight.data(),
          static_cast<const float*>(mean.data()), static_cast<const float*>(rstd.data()), N,
          as_int(C, "C"), static_cast<float*>(ws.data()), x.dtype(), nullptr);
      break;
  }
  return dx;
}

Tensor activation_backward(const Tensor& dout, const Tensor& x, kernels::Activation act) {
  Tensor dx = like(x, x.shape(), x.dtype());
  const auto n = static_cast<std::size_t>(x.numel());
  switch (where("activation_backward", x)) {
    case Where::none:
      break;
    case Where::cpu:
      by_dtype(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        kernels::activation_backward_cpu(out<T>(dx), in<T>(dout), in<T>(x), n, act);
      });
      break;
    case Where::cuda:
      kernels::activation_backward_cuda(dx.data(), dout.data(), x.data(), n, act, x.dtype(),
                                        nullptr);
      break;
  }
  return dx;
}

void attention_backward(const Tensor& dout, const AttentionInputs& inputs, const AttentionGrads& g,
                        std::int64_t H, bool causal, const std::vector<std::int32_t>* key_mask) {
  const int B = as_int(dout.size(0), "B"), T = as_int(dout.size(1), "T"), Hi = as_int(H, "H");
  const int D = as_int(dout.size(2) / H, "D");
  const int row_stride = as_int(inputs.q->size(2), "row stride");
  // Per query row, the CUDA kernel's softmax statistics (log-sum-exp and dout . out), and the
  // padding mask as device ids: allocated on every device.
  Tensor ws = workspace(
      dout, static_cast<std::int64_t>(kernels::attention_backward_workspace_floats(B, Hi, T)),
      DType::f32);
  const Tensor mask = key_mask ? ids_on(dout, *key_mask) : Tensor();
  switch (where("attention_backward", dout)) {
    case Where::none:
      break;
    case Where::cpu:
      by_dtype(dout.dtype(), [&](auto zero) {
        using T_ = decltype(zero);
        kernels::AttentionBackwardArgs<T_> a;
        a.B = B, a.T = T, a.H = Hi, a.D = D;
        a.q = in<T_>(*inputs.q) + inputs.q_col;
        a.k = in<T_>(*inputs.k) + inputs.k_col;
        a.v = in<T_>(*inputs.v) + inputs.v_col;
        a.row_stride = row_stride;
        a.dout = in<T_>(dout);
        a.dq = out<T_>(*g.dq) + inputs.q_col;
        a.dk = out<T_>(*g.dk) + inputs.k_col;
        a.dv = out<T_>(*g.dv) + inputs.v_col;
        a.causal = causal;
        a.key_mask = key_mask ? key_mask->data() : nullptr;
        a.scale = static_cast<T_>(1.0 / std::sqrt(static_cast<double>(a.D)));
        kernels::attention_backward_cpu(a);
      });
      break;
    case Where::cuda: {
      kernels::AttentionBackwardCudaArgs a;
      a.B = B, a.T = T, a.H = Hi, a.D = D;
      a.q = at(*inputs.q, inputs.q_col);
      a.k = at(*inputs.k, inputs.k_col);
      a.v = at(*inputs.v, inputs.v_col);
      a.row_stride = row_stride;
      a.dout = dout.data();
      a.dq = at(*g.dq, inputs.q_col);
      a.dk = at(*g.dk, inputs.k_col);
      a.dv = at(*g.dv, inputs.v_col);
      a.causal = causal;
      a.key_mask = key_mask ? static_cast<const std::int32_t*>(mask.data()) : nullptr;
      a.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(a.D)));
      a.dtype = dout.dtype();
      a.workspace = static_cast<float*>(ws.data());
      kernels::attention_backward_cuda(a, nullptr);
      break;
    }
  }
}

void embedding_backward(const Tensor& dout, const std::vector<std::int32_t>& tokens,
                        const std::vector<std::int32_t>& positions, Tensor& dwte, Tensor& dwpe,
                        Tensor* dwtt) {
  kernels::EmbeddingArgs a;
  a.B = as_int(dout.size(0), "B");
  a.T = as_int(dout.size(1), "T");
  a.C = as_int(dout.size(2), "C");
  const int N = a.B * a.T;
  // The CUDA scatter-add's row groups, one grouping per table, built on the host: a fixed size
  // on every device (what the ids hold changes the contents, never the bytes).
  const std::size_t per_table = kernels::embedding_groups_ints(N);
  const std::size_t tables = dwtt ? 3 : 2;
  Tensor groups = Tensor::empty(dout.arena_ptr(), {static_cast<std::int64_t>(tables * per_table)},
                                DType::i32, Category::activation);
  switch (where("embedding_backward", dout)) {
    case Where::none:
      break;
    case Where::cpu:
      a.tokens = tokens.data();
      a.positions = positions.data();
      by_dtype(dout.dtype(), [&](auto zero) {
        using T = decltype(zero);
        kernels::embedding_backward_cpu(a, in<T>(dout), out<T>(dwte), out<T>(dwpe),
                                        out_or_null<T>(dwtt));
      });
      break;
    case Where::cuda: {
      std::vector<std::int32_t> host(tables * per_table);
      const std::vector<std::int32_t> types(dwtt ? static_cast<std::size_t>(N) : 0, 0);
      const std::vector<std::int32_t>* ids[3] = {&tokens, &positions, &types};
      int counts[3] = {0, 0, 0};
      for (std::size_t i = 0; i < tables; ++i)
        counts[i] = kernels::group_embedding_rows(ids[i]->data(), N, host.data() + i * per_table);
      groups.copy_from_host(host.data(), host.size() * sizeof(std::int32_t));
      Tensor* tables_out[3] = {&dwte, &dwpe, dwtt};
      const auto* base = static_cast<const std::int32_t*>(groups.data());
      for (std::size_t i = 0; i < tables; ++i)
        kernels::embedding_backward_cuda(
            dout.data(), a.C, tables_out[i]->data(),
            kernels::embedding_groups_at(base + i * per_table, N, counts[i]), dout.dtype(),
            nullptr);
      break;
    }
  }
}

namespace {

// The mean loss over the rows whose target is not ignore_index; with `grad` (the logits
// themselves, in place), d(mean loss)/d(logits) times grad_scale is written into it. The
// per-row losses and the targets on the device are the only extra memory: N values each,
// not N x V.
double cross_entropy(const Tensor& logits, Tensor* grad, const std::vector<std::int32_t>& targets,
                     std::int32_t ignore_index, double grad_scale, std::int64_t mean_over) {
  const std::int64_t V = logits.size(-1), N = logits.numel() / V;
  if (static_cast<std::int64_t>(targets.size()) != N)
    throw Error("cross_entropy: " + std::to_string(targets.size()) + " targets for " +
                std::to_string(N) + " rows");
  std::int64_t counted = 0;
  for (std::int32_t t : targets) counted += t != ignore_index;
  if (mean_over > 0 && mean_over < counted)
    throw Error("cross_entropy: a mean over " + std::to_string(mean_over) + " rows of " +
                std::to_string(counted) + " counted here");
  if (mean_over == 0) mean_over = counted;
  if (mean_over == 0) throw Error("cross_entropy: every target is ignored");
  Tensor losses = like(logits, {N}, stat_dtype(logits));
  const Tensor device_targets = ids_on(logits, targets);
  const double scale = grad_scale / static_cast<double>(mean_over);
  double total = 0;
  switch (where("cross_entropy", logits)) {
    case Where::none:
      return 0.0;
    case Where::cpu:
      by_dtype(logits.dtype(), [&](auto zero) {
        using T = decltype(zero);
        kernels::cross_entropy_forward_backward_cpu(
            out<T>(losses), grad ? out<T>(*grad) : nullptr, in<T>(logits), targets.data(),
            as_int(N, "rows"), as_int(V, "V"), ignore_index, static_cast<T>(grad ? scale : 1.0));
        for (std::int64_t i = 0; i < N; ++i) total += in<T>(losses)[i];
      });
      break;
    case Where::cuda:
      total = cuda_cross_entropy(losses, grad, logits, targets, device_targets, ignore_index,
                                 grad ? scale : 1.0);
      break;
  }
  return total / static_cast<double>(mean_over);
}

}  // namespace

double cross_entropy_backward_inplace(Tensor& logits, const std::vector<std::int32_t>& targets,
                                      std::int32_t ignore_index, double grad_scale,
                                      std::int64_t mean_over) {
  return cross_entropy(logits, &logits, targets, ignore_index, grad_scale, mean_over);
}

double cross_entropy_loss(const Tensor& logits, const std::vector<std::int32_t>& targets,
                          std::int32_t ignore_index, std::int64_t mean_over) {
  return cross_entropy(logits, nullptr, targets, ignore_index, 1.0, mean_over);
}

}  // namespace cugpt::ops
