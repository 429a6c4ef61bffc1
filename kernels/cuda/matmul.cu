// matmul on CUDA: cuBLASLt with the bias and the activation fused into the GEMM's epilogue, so
// the (N, OC) output is written once; cublasGemmEx plus a small epilogue kernel where cuBLASLt
// has no algorithm for the shape, dtype or pointer alignment.
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <type_traits>

#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/blas.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/convert.cuh"
#include "kernels/matmul.h"

namespace cugpt::kernels {

namespace {

// Row-major trick: the bytes of a row-major (R, C) matrix are the column-major (C, R) matrix,
// so cuBLAS computes the transposed product and nothing is transposed in memory:
//   D (OC, N) = op(A) (OC, IC) · B (IC, N)       D = out, column-major, ld ld_out (>= OC)
//   B = x as column-major (IC, N), ld IC, op N
//   A = W [OC, IC] (Linear): column-major (IC, OC), ld IC, op T
//   A = W [IC, OC] (Conv1D, w_in_out): column-major (OC, IC), ld OC, op N
// The bias has one entry per row of D (OC), which is the vector cuBLASLt's bias epilogue
// broadcasts across D's columns.
struct Geometry {
  cublasOperation_t trans_a;
  int a_rows, a_cols, lda;  // A as stored, before op
};

Geometry geometry(int IC, int OC, bool w_in_out) {
  if (w_in_out) return {CUBLAS_OP_N, OC, IC, OC};
  return {CUBLAS_OP_T, IC, OC, IC};
}

cublasLtEpilogue_t lt_epilogue(Epilogue e, bool has_bias) {
  switch (e) {
    case Epilogue::relu:
      return has_bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
    case Epilogue::gelu_tanh:
      // cuBLASLt's GELU is the tanh approximation (GPT-2's gelu_new), as Epilogue names it.
      return has_bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
    case Epilogue::none:
      break;
  }
  return has_bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
}

// Set by a person (or a test) to route every matmul through cublasGemmEx and the epilogue
// kernel: the only way to exercise, or time, the fallback on a GPU where cuBLASLt handles
// every shape. Read per call so that a test can switch it on and off.
bool forced_cublas() {
  const char* v = std::getenv("CUGPT_MATMUL_CUBLAS");
  return v && v[0] == '1';
}

template <typename H, cublasStatus_t (*destroy)(H)>
struct LtDeleter {
  void operator()(H h) const { destroy(h); }
};
using MatmulDesc = std::unique_ptr<std::remove_pointer_t<cublasLtMatmulDesc_t>,
                                   LtDeleter<cublasLtMatmulDesc_t, cublasLtMatmulDescDestroy>>;
using MatrixLayout =
    std::unique_ptr<std::remove_pointer_t<cublasLtMatrixLayout_t>,
                    LtDeleter<cublasLtMatrixLayout_t, cublasLtMatrixLayoutDestroy>>;
using Preference =
    std::unique_ptr<std::remove_pointer_t<cublasLtMatmulPreference_t>,
                    LtDeleter<cublasLtMatmulPreference_t, cublasLtMatmulPreferenceDestroy>>;

template <typename V>
void set_desc(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr, const V& v) {
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d, attr, &v, sizeof(v)));
}
template <typename V>
void set_pref(cublasLtMatmulPreference_t p, cublasLtMatmulPreferenceAttributes_t attr, const V& v) {
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(p, attr, &v, sizeof(v)));
}

MatrixLayout make_layout(cudaDataType_t type, int rows, int cols, int ld) {
  cublasLtMatrixLayout_t raw = nullptr;
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&raw, type, static_cast<std::uint64_t>(rows),
                                          static_cast<std::uint64_t>(cols), ld));
  return MatrixLayout(raw);
}

// Everything the heuristic's answer depends on: the problem, the pointers' alignment and the
// workspace it may use. Same key, same algorithm, so the heuristic runs once per key.
struct Problem {
  int N, IC, OC, ld_out;
  bool w_in_out;
  Epilogue epilogue;
  bool has_bias;
  DType dtype;
  std::uint32_t align_x, align_w, align_out, align_bias;
  std::size_t workspace_bytes;
  std::uint32_t align_residual = 0;  // 0: no residual (C is D, beta = 0)

  auto key() const {
    return std::make_tuple(N, IC, OC, ld_out, w_in_out, epilogue, has_bias, dtype, align_x, align_w,
                           align_out, align_bias, workspace_bytes, align_residual);
  }
  bool operator<(const Problem& o) const { return key() < o.key(); }
};

// A cuBLASLt plan, or use_lt == false: this problem goes to cublasGemmEx.
struct Plan {
  bool use_lt = false;
  MatmulDesc desc;
  MatrixLayout a, b, d;
  cublasLtMatmulAlgo_t algo{};
};

Plan make_plan(cublasLtHandle_t lt, const Problem& p, const void* bias) {
  const cudaDataType_t type = cuda_type(p.dtype, "matmul");
  const Geometry g = geometry(p.IC, p.OC, p.w_in_out);
  Plan plan;
  // f32 accumulation and f32 alpha/beta for every dtype. CUBLAS_COMPUTE_32F never uses TF32:
  // f32 results match the CPU twin to ~1e-5. CUBLAS_COMPUTE_32F_FAST_TF32 would be the bench
  // option for speed on f32 (10-bit mantissa products, ~1e-3 relative error).
  cublasLtMatmulDesc_t desc = nullptr;
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  plan.desc.reset(desc);
  set_desc(desc, CUBLASLT_MATMUL_DESC_TRANSA, static_cast<std::int32_t>(g.trans_a));
  set_desc(desc, CUBLASLT_MATMUL_DESC_TRANSB, static_cast<std::int32_t>(CUBLAS_OP_N));
  set_desc(desc, CUBLASLT_MATMUL_DESC_EPILOGUE,
           static_cast<std::uint32_t>(lt_epilogue(p.epilogue, p.has_bias)));
  if (p.has_bias) {
    // The heuristic reads the bias pointer for its alignment; each call sets its own pointer.
    set_desc(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias);
    set_desc(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, static_cast<std::int32_t>(type));
  }
  plan.a = make_layout(type, g.a_rows, g.a_cols, g.lda);
  plan.b = make_layout(type, p.IC, p.N, p.IC);
  plan.d = make_layout(type, p.OC, p.N, p.ld_out);

  cublasLtMatmulPreference_t raw_pref = nullptr;
  CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&raw_pref));
  Preference pref(raw_pref);
  set_pref(raw_pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
           static_cast<std::uint64_t>(p.workspace_bytes));
  set_pref(raw_pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, p.align_w);
  set_pref(raw_pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, p.align_x);
  set_pref(raw_pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
           p.align_residual ? p.align_residual : p.align_out);
  set_pref(raw_pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, p.align_out);

  // C is D (beta = 0: never read), or the residual (beta = 1) with D's layout (ld_out = OC), so
  // both get D's layout.
  cublasLtMatmulHeuristicResult_t result{};
  int count = 0;
  const cublasStatus_t st =
      cublasLtMatmulAlgoGetHeuristic(lt, desc, plan.a.get(), plan.b.get(), plan.d.get(),
                                     plan.d.get(), raw_pref, 1, &result, &count);
  // NOT_SUPPORTED or no algorithm: e.g. 16-bit data with an odd leading dimension or a
  // pointer only 2-byte aligned on some architectures. cublasGemmEx takes any layout.
  if (st == CUBLAS_STATUS_NOT_SUPPORTED) return plan;
  CUBLAS_CHECK(st);
  if (count == 0 || result.state != CUBLAS_STATUS_SUCCESS) return plan;
  plan.algo = result.algo;
  plan.use_lt = true;
  return plan;
}

// Plans for decode and prefill at many lengths stay a small map: beyond this many the map is
// emptied and refilled (a heuristic call is tens of microseconds).
constexpr std::size_t kMaxPlans = 512;

// The cached plans of one device, used under its BlasHandles' mutex.
std::map<Problem, Plan>& plans_of(int device) {
  static std::mutex mu;
  static std::map<int, std::map<Problem, Plan>> plans;
  std::lock_guard<std::mutex> lock(mu);
  return plans[device];
}

// The fallback's epilogue, in place on out (N, OC), rows ld_out apart: + bias, then the
// activation in f32 (kernels/cuda/activation.cuh: the CPU twin's formulas, accurate tanhf).
template <typename T>
__global__ void bias_epilogue_kernel(T* __restrict__ out, const T* __restrict__ bias, std::size_t n,
                                     int OC, int ld_out, Epilogue epilogue) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t e = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += stride) {
    const std::size_t col = e % OC, i = (e / OC) * ld_out + col;
    float v = to_f32(out[i]);
    if (bias) v += to_f32(bias[col]);
    if (epilogue == Epilogue::relu) {
      v = activate(v, Activation::relu);
    } else if (epilogue == Epilogue::gelu_tanh) {
      v = activate(v, Activation::gelu_tanh);
    }
    out[i] = from_f32<T>(v);
  }
}

template <typename T>
void launch_bias_epilogue(void* out, const void* bias, std::size_t n, int OC, int ld_out,
                          Epilogue epilogue, Stream stream) {
  constexpr int kThreads = 256;
  bias_epilogue_kernel<T><<<grid_for(n, kThreads), kThreads, 0, stream>>>(
      static_cast<T*>(out), static_cast<const T*>(bias), n, OC, ld_out, epilogue);
  CUDA_LAUNCH_CHECK();
}

// cublasGemmEx with the same column-major mapping, then bias and activation as a second pass
// over the output (one more read and write of (N, OC): the price of the fallback).
void gemm_ex(BlasHandles& s, void* out, const void* x, const void* w, const void* bias,
             const void* residual, const Problem& p, const MatmulWorkspace& workspace,
             Stream stream) {
  cublasHandle_t blas = s.blas(stream, workspace);
  const cudaDataType_t type = cuda_type(p.dtype, "matmul");
  const Geometry g = geometry(p.IC, p.OC, p.w_in_out);
  const float alpha = 1.f, beta = residual ? 1.f : 0.f;
  if (residual)  // out = residual first, then the product accumulates onto it
    CUDA_CHECK(cudaMemcpyAsync(out, residual,
                               static_cast<std::size_t>(p.N) * p.OC * dtype_size(p.dtype),
                               cudaMemcpyDeviceToDevice, stream));
  // CUBLAS_COMPUTE_32F without TF32 (the handle's default math mode), as on the cuBLASLt path.
  CUBLAS_CHECK(cublasGemmEx(blas, g.trans_a, CUBLAS_OP_N, p.OC, p.N, p.IC, &alpha, w, type, g.lda,
                            x, type, p.IC, &beta, out, type, p.ld_out, CUBLAS_COMPUTE_32F,
                            CUBLAS_GEMM_DEFAULT));
  if (!bias && p.epilogue == Epilogue::none) return;
  const std::size_t n = static_cast<std::size_t>(p.N) * p.OC;
  // The dtype is one of the three: matmul_forward_cuda rejected the others.
  if (p.dtype == DType::f32)
    launch_bias_epilogue<float>(out, bias, n, p.OC, p.ld_out, p.epilogue, stream);
  else if (p.dtype == DType::bf16)
    launch_bias_epilogue<__nv_bfloat16>(out, bias, n, p.OC, p.ld_out, p.epilogue, stream);
  else
    launch_bias_epilogue<__half>(out, bias, n, p.OC, p.ld_out, p.epilogue, stream);
}

}  // namespace

void matmul_forward_cuda(void* out, const void* x, const void* w, const void* bias, int N, int IC,
                         int OC, bool w_in_out, Epilogue epilogue, DType dtype,
                         MatmulWorkspace workspace, Stream stream, int ld_out,
                         const void* residual) {
  cuda_type(dtype, "matmul");  // rejects f64 and i32 before anything else
  if (ld_out == 0) ld_out = OC;
  CUGPT_CHECK(N >= 0 && IC > 0 && OC > 0 && ld_out >= OC, "matmul: bad sizes");
  CUGPT_CHECK(!residual || (ld_out == OC && epilogue == Epilogue::none),
              "matmul: a residual is added to a compact output without an activation");
  if (N == 0) return;
  CUGPT_CHECK(out && x && w, "matmul: null input, weight or output");
  const bool workspace_usable = usable(workspace);
  const Problem p{N,
                  IC,
                  OC,
                  ld_out,
                  w_in_out,
                  epilogue,
                  bias != nullptr,
                  dtype,
                  alignment(x),
                  alignment(w),
                  alignment(out),
                  alignment(bias),
                  workspace_usable ? workspace.bytes : 0,
                  residual ? alignment(residual) : 0};

  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  BlasHandles& s = blas_handles();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!forced_cublas()) {
    std::map<Problem, Plan>& plans = plans_of(device);
    auto it = plans.find(p);
    if (it == plans.end()) {
      if (plans.size() >= kMaxPlans) plans.clear();
      it = plans.emplace(p, make_plan(s.lt(), p, bias)).first;
    }
    Plan& plan = it->second;
    if (plan.use_lt) {
      if (bias) set_desc(plan.desc.get(), CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias);
      const float alpha = 1.f, beta = residual ? 1.f : 0.f;
      const cublasStatus_t st =
          cublasLtMatmul(s.lt(), plan.desc.get(), &alpha, w, plan.a.get(), x, plan.b.get(), &beta,
                         residual ? residual : out, plan.d.get(), out, plan.d.get(), &plan.algo,
                         workspace_usable ? workspace.ptr : nullptr, p.workspace_bytes, stream);
      if (st == CUBLAS_STATUS_SUCCESS) return;
      // An algorithm the heuristic offered but the device refuses: remember, and fall back.
      if (st != CUBLAS_STATUS_NOT_SUPPORTED)
        throw Error(located(__FILE__, __LINE__,
                            "cublasLtMatmul (N " + std::to_string(N) + ", IC " +
                                std::to_string(IC) + ", OC " + std::to_string(OC) + ", " +
                                dtype_name(dtype) + "): " + cublasGetStatusString(st)));
      plan.use_lt = false;
    }
  }
  gemm_ex(s, out, x, w, bias, residual, p, workspace, stream);
}

}  // namespace cugpt::kernels
