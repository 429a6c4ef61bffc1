#include <cmath>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/vec.cuh"
#include "kernels/softmax.h"

namespace cugpt::kernels {

namespace {

// A warp per row up to 1024 columns (8 rows a block: attention-sized rows), a block of 512 per
// row beyond (vocabulary-sized rows). Rows of any length stream through: two reads, one write.
constexpr int kWarpMaxCols = 1024;
constexpr int kWideThreads = 512;

// Running max m and sum s of exp(x - m) over a thread's elements, one exp per element. A -inf
// element (a masked logit) adds nothing; exp(-inf - -inf) would be NaN.
__device__ __forceinline__ void online_add(float& m, float& s, float x) {
  if (x > m) {
    s = s * expf(m - x) + 1.f;
    m = x;
  } else if (m != -INFINITY) {
    s += expf(x - m);
  }
}

// Pass 1 finds each thread's (max, sum), the row's max, then the sum rescaled to it; pass 2
// re-reads the row (from L2 at worst) and writes exp(x - max) / sum. In place (out == x) is
// safe: each thread reads only the elements it writes, and all reads of pass 1 precede the
// reductions.
template <typename T, int kVec, int kRowThreads>
__global__ void __launch_bounds__(kRowBlockThreads<kRowThreads>)
    softmax_kernel(T* out, const T* x, int rows, int cols) {
  constexpr int kRowsPerBlock = kRowBlockThreads<kRowThreads> / kRowThreads;
  const std::size_t row =
      static_cast<std::size_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kRowThreads;
  if (row >= static_cast<std::size_t>(rows)) return;  // a whole warp: rows never share one
  const int lane = threadIdx.x % kRowThreads;
  const int packs = cols / kVec;
  const T* in = x + row * cols;
  T* o = out + row * cols;

  float m = -INFINITY, s = 0.f;
  for (int p = lane; p < packs; p += kRowThreads) {
    float v[kVec];
    load_vec(v, in + p * kVec);
#pragma unroll
    for (int k = 0; k < kVec; ++k) online_add(m, s, v[k]);
  }
  const float row_max = row_reduce<kRowThreads, true>(m);
  s = m == -INFINITY ? 0.f : s * expf(m - row_max);  // a thread that saw only -inf adds 0
  const float inv = 1.f / row_reduce<kRowThreads, false>(s);

  for (int p = lane; p < packs; p += kRowThreads) {
    float v[kVec];
    load_vec(v, in + p * kVec);
#pragma unroll
    for (int k = 0; k < kVec; ++k) v[k] = expf(v[k] - row_max) * inv;
    store_vec(o + p * kVec, v);
  }
}

template <typename T, int kVec, int kRowThreads>
void launch(T* out, const T* x, int rows, int cols, Stream stream) {
  constexpr int kRowsPerBlock = kRowBlockThreads<kRowThreads> / kRowThreads;
  const auto blocks =
      static_cast<unsigned>((static_cast<std::size_t>(rows) + kRowsPerBlock - 1) / kRowsPerBlock);
  softmax_kernel<T, kVec, kRowThreads>
      <<<blocks, kRowBlockThreads<kRowThreads>, 0, stream>>>(out, x, rows, cols);
  CUDA_LAUNCH_CHECK();
}

}  // namespace

void softmax_forward_cuda(void* out, const void* x, int rows, int cols, DType dtype,
                          Stream stream) {
  dispatch_dtype("softmax", dtype, [&](auto zero) {
    using T = decltype(zero);
    if (rows < 0 || cols <= 0) throw Error("softmax: bad sizes");
    if (rows == 0) return;
    // Packs need every row start aligned: the bases, and a row length a whole number of packs.
    const bool vectorise = cols % kPack<T> == 0 && aligned16(out) && aligned16(x);
    dispatch_vec<T>(vectorise, [&](auto vec) {
      constexpr int kVec = decltype(vec)::value;
      auto* o = static_cast<T*>(out);
      const auto* in = static_cast<const T*>(x);
      if (cols <= kWarpMaxCols) return launch<T, kVec, 32>(o, in, rows, cols, stream);
      launch<T, kVec, kWideThreads>(o, in, rows, cols, stream);
    });
  });
}

}  // namespace cugpt::kernels
