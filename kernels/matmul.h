// matmul: the product of a Linear layer. out (N, OC) = x (N, IC) · W + bias, where W is stored
// as [OC, IC] (PyTorch Linear; the product uses its transpose) or, with w_in_out, as [IC, OC]
// (GPT-2's Conv1D). bias (OC) may be nullptr.
// Row pitch: out's rows (and dout's, in the backward) may lie ld elements apart, ld >= OC (0
// means OC): the head's logits are OC = V = 50257 wide but padded to a pitch of a multiple of 64
// so that every row starts 16-byte aligned, which cuBLASLt needs to offer an algorithm at all.
// Only the first OC columns of a row are written or read; the padding is never touched.
#pragma once

#include <cstddef>

#include <string>

#include "kernels/activation.h"
#include "kernels/dtype.h"
#include "kernels/error.h"
#include "kernels/runtime.h"

namespace cugpt::kernels {

void matmul_forward_cpu(float* out, const float* x, const float* w, const float* bias, int N,
                        int IC, int OC, bool w_in_out, int ld_out = 0);
void matmul_forward_cpu(double* out, const double* x, const double* w, const double* bias, int N,
                        int IC, int OC, bool w_in_out, int ld_out = 0);

// backward (cpu). dx (N, IC) = dout · W is written; dw += dout^T · x for [OC, IC] or x^T · dout
// for [IC, OC], and dbias (OC) += column sums of dout: parameter gradients accumulate so that
// micro-batches add up. A nullptr gradient is skipped (no input gradient for the first layer).
void matmul_backward_cpu(float* dx, float* dw, float* dbias, const float* dout, const float* x,
                         const float* w, int N, int IC, int OC, bool w_in_out, int ld_dout = 0);
void matmul_backward_cpu(double* dx, double* dw, double* dbias, const double* dout, const double* x,
                         const double* w, int N, int IC, int OC, bool w_in_out, int ld_dout = 0);

// CUDA through cuBLASLt (cuBLAS when cuBLASLt has no algorithm for the shape), dtype
// f32/bf16/f16 with f32 accumulation. The epilogue runs after the bias inside the GEMM.
enum class Epilogue { none, relu, gelu_tanh };

// The epilogue that computes `act` inside the GEMM, or none where the GEMM has none for it
// (cuBLASLt has no erf GELU: the activation then runs after the product, on every device
// alike, nn/ops.cpp). One exhaustive switch: an Activation added without its case here is a
// -Wswitch warning and, until it has one, an Error, never another activation's epilogue.
inline Epilogue gemm_epilogue(Activation act) {
  switch (act) {
    case Activation::relu:
      return Epilogue::relu;
    case Activation::gelu_tanh:
      return Epilogue::gelu_tanh;
    case Activation::gelu_erf:
      return Epilogue::none;
  }
  throw Error("gemm_epilogue: activation " + std::to_string(static_cast<int>(act)) +
              " has no case (kernels/matmul.h)");
}

// The forward and the backward share one cuBLAS and one cuBLASLt handle per device
// (kernels/cuda/blas.cuh), created on first use, destroyed at exit.
// workspace: device memory of workspace_bytes (the caller's arena, category workspace).
struct MatmulWorkspace {
  void* ptr = nullptr;
  std::size_t bytes = 0;
};
// cuBLASLt's recommended workspace for the GPUs cugpt targets.
constexpr std::size_t kMatmulWorkspaceBytes = 4u << 20;

// residual (N, OC), contiguous, or nullptr: out = x W + bias + residual, the sum made inside the
// GEMM (cuBLASLt's C with beta = 1: f32, rounded once; the cublasGemmEx fallback copies it into
// out first). With a residual the epilogue must be none and ld_out must be OC (a decode step's
// residual stream, models/gpt.cpp).
void matmul_forward_cuda(void* out, const void* x, const void* w, const void* bias, int N, int IC,
                         int OC, bool w_in_out, Epilogue epilogue, DType dtype,
                         MatmulWorkspace workspace, Stream stream, int ld_out = 0,
                         const void* residual = nullptr);

// CUDA backward, the CPU twin's contract: dx (N, IC) written, dw and dbias accumulated (+=),
// nullptr gradients skipped. dx and dw are cuBLAS GEMMs (cublasGemmEx, CUBLAS_COMPUTE_32F: f32
// accumulation, no TF32; dw with beta = 1), in the workspace given (or none). dbias is a
// deterministic column reduction of dout (fixed split over rows, fixed order, no atomics).
void matmul_backward_cuda(void* dx, void* dw, void* dbias, const void* dout, const void* x,
                          const void* w, int N, int IC, int OC, bool w_in_out, DType dtype,
                          MatmulWorkspace workspace, Stream stream, int ld_dout = 0);

}  // namespace cugpt::kernels
