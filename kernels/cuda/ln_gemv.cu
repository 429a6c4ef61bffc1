// Fused LayerNorm + M=1 product (kernels/ln_gemv.h). One block per (column tile, K chunk) of
// the plan: its prologue computes each row's mean and rstd over the whole row (x is a few KiB
// and L2-resident, so every block recomputing them costs less than a kernel boundary) and keeps
// the normalised values of its K chunk in shared memory as f32; the body streams its weight
// tile once per pass of rows_per_pass rows with 16-byte loads. Every sum runs in a fixed order:
// the same bits from run to run. The epilogue (kernels/ln_gemv.h) runs where an output is
// finished: in the block when K is whole, in the reduction otherwise; the argmax one reduces a
// pass's keys in shared memory, then one global atomicMax per row and block (a max is the same
// in any order).
#include <string>

#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/vec.cuh"
#include "kernels/ln_gemv.h"
#include "kernels/sampling.h"

namespace cugpt::kernels {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kColsPerWarp = 2;  // out_in: each warp's columns (tile_cols = kWarps * 2)

struct LnGemvArgs {
  void* out;
  float* partial;  // [splits, B, N] f32 when K is split, else nullptr
  const void* x;
  const void* gamma;
  const void* beta;
  const void* w[kLnGemvMaxParts];     // out_in: part p holds columns [p part_n, (p + 1) part_n)
  const void* bias[kLnGemvMaxParts];  // (part_n) each, or nullptr
  int part_n;                         // N for one matrix
  int B, K, N, ld;
  int tile_cols, splits, chunk;  // the plan's
  float eps;
  int act;                   // an Activation, or -1 for none
  unsigned long long* keys;  // (B) argmax keys, or nullptr (the outputs are stored)
  int idb;                   // sampling_rule::id_bits(N)
};

// Part i's pointer by selects: indexing the argument array with a runtime value made the
// compiler copy it to the stack (a 4-byte spill in some variants).
__device__ __forceinline__ const void* part_ptr(const void* const (&p)[kLnGemvMaxParts], int i) {
  static_assert(kLnGemvMaxParts == 3, "one select per part");
  return i == 0 ? p[0] : (i == 1 ? p[1] : p[2]);
}

// The finished output v (the sum over K) of (row b, column n): bias and activation, rounded
// once, then stored, or with argmax keys its key folded into best[r], this pass's shared max
// for row r. kKeys: the argmax code is compiled in (out_in only, the head's layout: in the
// in_out variants it made sm_90 spill).
template <typename T, bool kKeys>
__device__ __forceinline__ void finish(const LnGemvArgs& a, unsigned long long* best, int r, int b,
                                       int n, float v) {
  const int part = n / a.part_n;
  if (const void* bias = part_ptr(a.bias, part))
    v += to_f32(static_cast<const T*>(bias)[n - part * a.part_n]);
  if (a.act >= 0) v = activate(v, static_cast<Activation>(a.act));
  const T o = from_f32<T>(v);
  if (kKeys && a.keys) {
    atomicMax(best + r,
              static_cast<unsigned long long>(sampling_rule::order_key(to_f32(o), n, a.idb)));
    return;
  }
  static_cast<T*>(a.out)[static_cast<std::size_t>(b) * a.ld + n] = o;
}

// The block's result for (row b0 + r, column n): finished when K is whole, else this chunk's
// partial sum.
template <typename T, bool kKeys>
__device__ __forceinline__ void put(const LnGemvArgs& a, unsigned long long* best, int b0, int r,
                                    int n, float v) {
  const int b = b0 + r;
  if (b >= a.B || n >= a.N) return;
  if (a.splits > 1) {
    a.partial[(static_cast<std::size_t>(blockIdx.y) * a.B + b) * a.N + n] = v;
    return;
  }
  finish<T, kKeys>(a, best, r, b, n, v);
}

// Rows b0 .. b0+R-1 normalised into xs [R][chunk] (f32), their K chunk [k0, k0 + chunk) only;
// zeros past K and for rows past B. Statistics as layernorm_kernel computes them: values shifted
// by the row's first element, the mean, then the mean squared deviation from it.
template <typename T, int R>
__device__ __forceinline__ void normalise_rows(const LnGemvArgs& a, float* xs, int b0, int k0) {
  const T* gamma = static_cast<const T*>(a.gamma);
  const T* beta = static_cast<const T*>(a.beta);
  for (int r = 0; r < R; ++r) {
    float* dst = xs + r * a.chunk;
    const int b = b0 + r;
    if (b >= a.B) {  // the same for the whole block: block_sum below is never skipped by part
      for (int i = threadIdx.x; i < a.chunk; i += kThreads) dst[i] = 0.f;
      continue;
    }
    const T* row = static_cast<const T*>(a.x) + static_cast<std::size_t>(b) * a.K;
    const float shift = to_f32(row[0]);
    float s = 0.f;
    for (int k = threadIdx.x; k < a.K; k += kThreads) s += to_f32(row[k]) - shift;
    const float mean = block_sum<kThreads>(s) / static_cast<float>(a.K);
    float q = 0.f;
    for (int k = threadIdx.x; k < a.K; k += kThreads) {
      const float d = to_f32(row[k]) - shift - mean;
      q += d * d;
    }
    const float rstd = rsqrtf(block_sum<kThreads>(q) / static_cast<float>(a.K) + a.eps);
    for (int i = threadIdx.x; i < a.chunk; i += kThreads) {
      const int k = k0 + i;
      dst[i] = k < a.K ? (to_f32(row[k]) - shift - mean) * rstd * to_f32(gamma[k]) + to_f32(beta[k])
                       : 0.f;
    }
  }
}

// One group of 16 columns from column n_group on (product_out_in).
template <typename T, bool kVecW, int R>
__device__ __forceinline__ void product_out_in_group(const LnGemvArgs& a, const float* xs,
                                                     float* stage, int k0, int klen, int g) {
  constexpr int V = kPack<T>;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int n_base = blockIdx.x * a.tile_cols + g + warp * kColsPerWarp;
  const T* wcol[kColsPerWarp];  // each column's weight row at k0, in its part's matrix
#pragma unroll
  for (int c = 0; c < kColsPerWarp; ++c) {
    const int n = n_base + c, part = n / a.part_n;
    wcol[c] = n < a.N ? static_cast<const T*>(part_ptr(a.w, part)) +
                            static_cast<std::size_t>(n - part * a.part_n) * a.K + k0
                      : nullptr;
  }
  float acc[R][kColsPerWarp] = {};
  const int packs = (klen + V - 1) / V;
#pragma unroll(R == 1 ? 2 : 1)  // R = 4 unrolled twice spills 4 bytes on sm_90
  for (int p = lane; p < packs; p += 32) {
    const int i = p * V;
    float xv[R][V];
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int j = 0; j < V; j += 4) {
        const float4 f = *reinterpret_cast<const float4*>(xs + r * a.chunk + i + j);
        xv[r][j] = f.x, xv[r][j + 1] = f.y, xv[r][j + 2] = f.z, xv[r][j + 3] = f.w;
      }
#pragma unroll
    for (int c = 0; c < kColsPerWarp; ++c) {
      if (!wcol[c]) continue;
      const T* wp = wcol[c] + i;
      float wv[V];
      if constexpr (kVecW) {
        load_vec<V>(wv, wp);
      } else {
#pragma unroll
        for (int j = 0; j < V; ++j) wv[j] = i + j < klen ? to_f32(wp[j]) : 0.f;
      }
#pragma unroll
      for (int r = 0; r < R; ++r)
#pragma unroll
        for (int j = 0; j < V; ++j) acc[r][c] += xv[r][j] * wv[j];
    }
  }
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int c = 0; c < kColsPerWarp; ++c) {
      float v = acc[r][c];
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
      if (lane == 0) stage[r * a.tile_cols + g + warp * kColsPerWarp + c] = v;
    }
}

// W [N, K]: in each group of 16 columns of the tile, warp w owns columns 2w and 2w + 1; its lanes
// stride over the chunk one 16-byte pack at a time (a warp reads 512 contiguous bytes per column
// per step), then reduce across the warp with shuffles (a fixed butterfly). The sums wait in
// shared memory (stage, [R][tile_cols]) and the whole block finishes them: one copy of the
// epilogue, outside the unrolled loops (inside them it spilled on sm_90).
template <typename T, bool kVecW, int R>
__device__ __forceinline__ void product_out_in(const LnGemvArgs& a, const float* xs, float* stage,
                                               unsigned long long* best, int b0, int k0, int klen) {
  for (int g = 0; g < a.tile_cols; g += kWarps * kColsPerWarp)
    product_out_in_group<T, kVecW, R>(a, xs, stage, k0, klen, g);
  __syncthreads();
  for (int e = threadIdx.x; e < R * a.tile_cols; e += kThreads) {
    const int r = e / a.tile_cols, col = e % a.tile_cols;
    put<T, true>(a, best, b0, r, blockIdx.x * a.tile_cols + col, stage[e]);
  }
}

// W [K, N]: lane l owns the pack of V consecutive columns tile*32V + lV; warp w takes the rows
// k0 + w, k0 + w + 8, ... (a warp reads 512 contiguous bytes per row). The 8 warps' sums meet in
// shared memory (reusing xs) and are added in warp order.
template <typename T, bool kVecW, int R>
__device__ __forceinline__ void product_in_out(const LnGemvArgs& a, float* smem,
                                               unsigned long long* best, int b0, int k0, int klen) {
  constexpr int V = kPack<T>;
  constexpr int kTile = 32 * V;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int n0 = blockIdx.x * kTile + lane * V;
  const T* w = static_cast<const T*>(a.w[0]);  // one matrix: the host refuses parts here
  float acc[R][V] = {};
  if (n0 < a.N) {
#pragma unroll 4
    for (int i = warp; i < klen; i += kWarps) {
      const T* wp = w + static_cast<std::size_t>(k0 + i) * a.N + n0;
      float wv[V];
      if constexpr (kVecW) {
        load_vec<V>(wv, wp);
      } else {
#pragma unroll
        for (int j = 0; j < V; ++j) wv[j] = n0 + j < a.N ? to_f32(wp[j]) : 0.f;
      }
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const float xv = smem[r * a.chunk + i];  // a broadcast: one address per warp
#pragma unroll
        for (int j = 0; j < V; ++j) acc[r][j] += xv * wv[j];
      }
    }
  }
  __syncthreads();    // every warp is done with xs: the partial sums take its place
  float* red = smem;  // [kWarps][R][kTile]
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int j = 0; j < V; ++j) red[(warp * R + r) * kTile + lane * V + j] = acc[r][j];
  __syncthreads();
#pragma unroll 1  // the epilogue unrolled spilled 4 bytes on sm_86 (element loads, 16-bit)
  for (int e = threadIdx.x; e < R * kTile; e += kThreads) {
    const int r = e / kTile, col = e % kTile;
    float v = 0.f;
#pragma unroll
    for (int wi = 0; wi < kWarps; ++wi) v += red[(wi * R + r) * kTile + col];
    put<T, false>(a, best, b0, r, blockIdx.x * kTile + col, v);
  }
}

// grid (tiles, splits), kThreads threads, plan.smem_bytes of dynamic shared memory.
template <typename T, bool kVecW, bool kInOut, int R>
__global__ void __launch_bounds__(kThreads) ln_gemv_kernel(LnGemvArgs a) {
  extern __shared__ float4 smem4[];  // 16-byte aligned for the float4 reads of xs
  __shared__ unsigned long long best[kLnGemvOnePassRows];  // the argmax keys, this pass
  static_assert(R <= kLnGemvOnePassRows, "rows per pass");
  float* smem = reinterpret_cast<float*>(smem4);
  const int k0 = blockIdx.y * a.chunk;
  const int klen = min(a.chunk, a.K - k0);
  for (int b0 = 0; b0 < a.B; b0 += R) {
    if (threadIdx.x < R) best[threadIdx.x] = 0;  // read after the __syncthreads below
    normalise_rows<T, R>(a, smem, b0, k0);
    __syncthreads();
    if constexpr (kInOut) {
      product_in_out<T, kVecW, R>(a, smem, best, b0, k0, klen);
    } else {
      product_out_in<T, kVecW, R>(a, smem, smem + R * a.chunk, best, b0, k0, klen);
    }
    __syncthreads();  // before the next pass overwrites shared memory (and best)
    if (a.keys && threadIdx.x < R && b0 + threadIdx.x < a.B)
      atomicMax(a.keys + b0 + threadIdx.x, best[threadIdx.x]);
  }
}

// The split partials added in chunk order, then the bias, rounded once: (B * N) outputs.
template <typename T>
__global__ void __launch_bounds__(kThreads) ln_gemv_reduce_kernel(LnGemvArgs a) {
  const std::size_t total = static_cast<std::size_t>(a.B) * a.N;
  for (std::size_t e = static_cast<std::size_t>(blockIdx.x) * kThreads + threadIdx.x; e < total;
       e += static_cast<std::size_t>(gridDim.x) * kThreads) {
    float v = 0.f;
    for (int s = 0; s < a.splits; ++s) v += a.partial[static_cast<std::size_t>(s) * total + e];
    const int b = static_cast<int>(e / a.N), n = static_cast<int>(e % a.N);
    finish<T, false>(a, nullptr, 0, b, n, v);  // no argmax: the host refuses it with a split
  }
}

template <typename T, bool kVecW, bool kInOut, int R>
void launch(const LnGemvArgs& a, const LnGemvPlan& p, Stream stream) {
  const dim3 grid(static_cast<unsigned>(p.tiles), static_cast<unsigned>(p.splits));
  ln_gemv_kernel<T, kVecW, kInOut, R><<<grid, kThreads, p.smem_bytes, stream>>>(a);
  CUDA_LAUNCH_CHECK();
  if (p.splits > 1) {
    const std::size_t total = static_cast<std::size_t>(a.B) * a.N;
    ln_gemv_reduce_kernel<T><<<grid_for(total, kThreads), kThreads, 0, stream>>>(a);
    CUDA_LAUNCH_CHECK();
  }
}

template <typename T, bool kVecW>
void launch_rows(const LnGemvArgs& a, const LnGemvPlan& p, bool w_in_out, Stream stream) {
  if (w_in_out) {
    if (p.rows_per_pass == 1) return launch<T, kVecW, true, 1>(a, p, stream);
    return launch<T, kVecW, true, 4>(a, p, stream);
  }
  if (p.rows_per_pass == 1) return launch<T, kVecW, false, 1>(a, p, stream);
  launch<T, kVecW, false, 4>(a, p, stream);
}

}  // namespace

void ln_gemv_parts_cuda(void* out, const void* x, const void* gamma, const void* beta,
                        const LnGemvWeights& w, int B, int K, int N, float eps, bool w_in_out,
                        DType dtype, void* workspace, std::size_t workspace_bytes, Stream stream,
                        int ld_out, const LnGemvEpilogue& epi) {
  if (ld_out == 0) ld_out = N;
  if (B < 0 || K <= 0 || N <= 0 || ld_out < N) throw Error("ln_gemv: bad sizes");
  if (w.parts < 1 || w.parts > kLnGemvMaxParts || N % w.parts != 0 || (w.parts > 1 && w_in_out))
    throw Error("ln_gemv: " + std::to_string(w.parts) + " weight parts for " + std::to_string(N) +
                " columns (1, or up to " + std::to_string(kLnGemvMaxParts) +
                " equal [N/parts, K] matrices)");
  dispatch_dtype("ln_gemv", dtype, [&](auto zero) {
    using T = decltype(zero);
    if (B == 0) return;
    bool weights = true, aligned = true;
    for (int i = 0; i < w.parts; ++i)
      weights = weights && w.w[i], aligned = aligned && aligned16(w.w[i]);
    if ((!out && !epi.argmax_keys) || !x || !gamma || !beta || !weights)
      throw Error("ln_gemv: null tensor");
    const LnGemvPlan p = ln_gemv_plan(B, K, N, dtype, w_in_out);
    if (epi.argmax_keys && (p.splits > 1 || w_in_out))
      throw Error("ln_gemv: the argmax epilogue needs out_in weights and K unsplit (" +
                  std::to_string(p.splits) + " chunks of " + std::to_string(p.chunk) + ")");
    const std::size_t need = ln_gemv_workspace_bytes(B, K, N, dtype, w_in_out);
    if (need > 0 && (!workspace || workspace_bytes < need))
      throw Error("ln_gemv: the workspace holds " + std::to_string(workspace_bytes) +
                  " bytes, the split over K needs " + std::to_string(need));
    LnGemvArgs a{};
    a.out = out, a.x = x, a.gamma = gamma, a.beta = beta;
    for (int i = 0; i < w.parts; ++i) a.w[i] = w.w[i], a.bias[i] = w.bias[i];
    a.part_n = N / w.parts;
    a.partial = static_cast<float*>(need > 0 ? workspace : nullptr);
    a.B = B, a.K = K, a.N = N, a.ld = ld_out, a.eps = eps;
    a.tile_cols = p.tile_cols, a.splits = p.splits, a.chunk = p.chunk;
    a.act = epi.act ? static_cast<int>(*epi.act) : -1;
    a.keys = reinterpret_cast<unsigned long long*>(epi.argmax_keys);
    a.idb = sampling_rule::id_bits(N);
    const int contiguous = w_in_out ? N : K;
    const bool vectorise = aligned && contiguous % kPack<T> == 0;
    if (vectorise) return launch_rows<T, true>(a, p, w_in_out, stream);
    launch_rows<T, false>(a, p, w_in_out, stream);
  });
}

void ln_gemv_cuda(void* out, const void* x, const void* gamma, const void* beta, const void* w,
                  const void* bias, int B, int K, int N, float eps, bool w_in_out, DType dtype,
                  void* workspace, std::size_t workspace_bytes, Stream stream, int ld_out,
                  const LnGemvEpilogue& epi) {
  LnGemvWeights one;
  one.w[0] = w, one.bias[0] = bias;
  ln_gemv_parts_cuda(out, x, gamma, beta, one, B, K, N, eps, w_in_out, dtype, workspace,
                     workspace_bytes, stream, ld_out, epi);
}

}  // namespace cugpt::kernels
