#include <string>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/vec.cuh"
#include "kernels/layernorm.h"

namespace cugpt::kernels {

namespace {

// A row lives in registers between its one read and its one write: each of its kRowThreads
// threads holds up to kElems of its values. A warp per row up to 1024 columns (8 rows a block),
// then a block of 256 or 512 threads per row, reducing through shared memory. 1024-thread blocks
// would cap registers at 64 a thread, and the scalar path would spill.
constexpr int kElems = 32;
constexpr int kMaxC = 512 * kElems;

struct LayerNormArgs {
  void* out;
  float* mean;  // (N) or nullptr
  float* rstd;  // (N) or nullptr
  const void* x;
  const void* r;  // fused residual: sum = x + r is written and normalised; nullptr otherwise
  void* sum;
  const void* weight;
  const void* bias;
  int N, C;
  float eps;
};

// Statistics from registers in two passes: the mean, then the mean squared deviation from it
// (no E[x^2] - E[x]^2 cancellation). Values are first shifted by the row's first element, so a
// row with a large mean and a small spread sums small exact differences (Sterbenz) and keeps
// its digits. Each thread reads its elements before anything is written, and writes only those,
// so out may alias x and sum may alias x or r.
template <typename T, int kVec, int kRowThreads>
__global__ void __launch_bounds__(kRowBlockThreads<kRowThreads>) layernorm_kernel(LayerNormArgs a) {
  constexpr int kPer = kElems / kVec;  // packs a thread holds
  constexpr int kRowsPerBlock = kRowBlockThreads<kRowThreads> / kRowThreads;
  const std::size_t row =
      static_cast<std::size_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kRowThreads;
  if (row >= static_cast<std::size_t>(a.N)) return;  // a whole warp: rows never share one
  const int lane = threadIdx.x % kRowThreads;
  const int packs = a.C / kVec;
  const std::size_t base = row * a.C;
  const T* x = static_cast<const T*>(a.x) + base;
  const T* r = a.r ? static_cast<const T*>(a.r) + base : nullptr;

  float v[kPer][kVec] = {};
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    const int p = lane + j * kRowThreads;
    if (p >= packs) continue;
    load_vec(v[j], x + p * kVec);
    if (!r) continue;
    // The residual stream is stored in T, so the fused kernel normalises the rounded sum: the
    // same numbers as a residual kernel followed by a LayerNorm kernel.
    float w[kVec];
    load_vec(w, r + p * kVec);
#pragma unroll
    for (int k = 0; k < kVec; ++k) v[j][k] = round_as<T>(v[j][k] + w[k]);
    store_vec(static_cast<T*>(a.sum) + base + p * kVec, v[j]);
  }
  const float shift = row_first<kRowThreads>(v[0][0]);  // lane 0 holds element 0
  float s = 0.f;
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    if (lane + j * kRowThreads >= packs) continue;
#pragma unroll
    for (int k = 0; k < kVec; ++k) {
      v[j][k] -= shift;
      s += v[j][k];
    }
  }
  const float mean = row_reduce<kRowThreads, false>(s) / static_cast<float>(a.C);
  float q = 0.f;
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    if (lane + j * kRowThreads >= packs) continue;
#pragma unroll
    for (int k = 0; k < kVec; ++k) {
      v[j][k] -= mean;
      q += v[j][k] * v[j][k];
    }
  }
  const float rstd = rsqrtf(row_reduce<kRowThreads, false>(q) / static_cast<float>(a.C) + a.eps);

  T* out = static_cast<T*>(a.out) + base;
  const T* weight = static_cast<const T*>(a.weight);
  const T* bias = static_cast<const T*>(a.bias);
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    const int p = lane + j * kRowThreads;
    if (p >= packs) continue;
    float w[kVec], b[kVec];
    load_vec(w, weight + p * kVec);
    load_vec(b, bias + p * kVec);
#pragma unroll
    for (int k = 0; k < kVec; ++k) v[j][k] = v[j][k] * rstd * w[k] + b[k];
    store_vec(out + p * kVec, v[j]);
  }
  if (lane == 0) {
    if (a.mean) a.mean[row] = shift + mean;
    if (a.rstd) a.rstd[row] = rstd;
  }
}

template <typename T, int kVec, int kRowThreads>
void launch(const LayerNormArgs& a, Stream stream) {
  constexpr int kRowsPerBlock = kRowBlockThreads<kRowThreads> / kRowThreads;
  const auto blocks =
      static_cast<unsigned>((static_cast<std::size_t>(a.N) + kRowsPerBlock - 1) / kRowsPerBlock);
  layernorm_kernel<T, kVec, kRowThreads><<<blocks, kRowBlockThreads<kRowThreads>, 0, stream>>>(a);
  CUDA_LAUNCH_CHECK();
}

void run(const LayerNormArgs& a, DType dtype, Stream stream) {
  dispatch_dtype("layernorm", dtype, [&](auto zero) {
    using T = decltype(zero);
    if (a.N < 0 || a.C <= 0) throw Error("layernorm: bad sizes");
    if (a.C > kMaxC)
      throw Error("layernorm: C = " + std::to_string(a.C) + " is over the CUDA kernel's " +
                  std::to_string(kMaxC) + " (a row is held in registers)");
    if (a.N == 0) return;
    // Packs need every row start aligned: the bases, and a row length a whole number of packs.
    const bool vectorise = a.C % kPack<T> == 0 && aligned16(a.out) && aligned16(a.x) &&
                           aligned16(a.weight) && aligned16(a.bias) &&
                           (!a.r || (aligned16(a.r) && aligned16(a.sum)));
    dispatch_vec<T>(vectorise, [&](auto vec) {
      constexpr int kVec = decltype(vec)::value;
      if (a.C <= 32 * kElems) return launch<T, kVec, 32>(a, stream);
      if (a.C <= 256 * kElems) return launch<T, kVec, 256>(a, stream);
      launch<T, kVec, 512>(a, stream);
    });
  });
}

}  // namespace

void layernorm_forward_cuda(void* out, float* mean, float* rstd, const void* x, const void* weight,
                            const void* bias, int N, int C, float eps, DType dtype, Stream stream) {
  run({out, mean, rstd, x, nullptr, nullptr, weight, bias, N, C, eps}, dtype, stream);
}

void layernorm_residual_forward_cuda(void* sum, void* out, float* mean, float* rstd, const void* x,
                                     const void* r, const void* weight, const void* bias, int N,
                                     int C, float eps, DType dtype, Stream stream) {
  if (N > 0 && (!sum || !r)) throw Error("layernorm_residual: sum and residual are required");
  run({out, mean, rstd, x, r, sum, weight, bias, N, C, eps}, dtype, stream);
}

}  // namespace cugpt::kernels
