// Attention backward on CUDA, flash style: the probabilities are recomputed from q and k tile by
// tile, and no T x T matrix ever reaches device memory. With P = softmax(scale * q k^T) per
// query row and D_i = rowsum(dP * P) = dout_i . out_i:
//   dv_j = sum_i P_ij dout_i,   dS_ij = P_ij (dout_i . v_j - D_i),
//   dk_j = scale * sum_i dS_ij q_i,   dq_i = scale * sum_j dS_ij k_j.
//
// Design. Three kernels over the grid (ceil(T / 16), H, B), 128 threads a block. A block owns 16
// rows (queries or keys) of one (batch, head); 8 consecutive threads share a row, thread t of a
// row owning its head dims t, t + 8, t + 16, ... (D / 8 of them: 4, 8, 10, 12 or 16), and a dot
// product over D is the 8 partial sums added by three xor shuffles. The other operand streams
// through shared memory in tiles of 32 rows, converted to f32; in the inner loops the 8 threads
// of a row read 8 consecutive words that the warp's 4 rows share (broadcast, no bank conflict).
//  1. stats: per query row, the forward again (online softmax over the key tiles, as
//     kernels/cuda/attention.cu does, in base 2) for the row's log-sum-exp (base 2, of the
//     scaled scores; +inf for a row with no visible key, so its P is 0) and D_i = dout_i . out_i
//     with out_i in f32. Written to the workspace: (B, H, T) floats each. The forward does not
//     keep these, so this pass is the price of a forward that saves nothing.
//  2. dk, dv: per key row, loop over the query tiles (from the block's first key on when causal),
//     recompute P_ij and dS_ij and accumulate in f32 registers.
//  3. dq: per query row, loop over the key tiles (up to the block's last query when causal).
// Every gradient row is written by the one block that owns it, after one accumulation in a fixed
// order: no atomics, no second pass over partial results, and the same bits on every run. Only
// the head's own D columns of dq, dk and dv are written (a fused (B, T, 3C) gradient buffer keeps
// its other columns); masked keys get zero gradients, fully masked query rows zero dq.
// Head dims: kernels for 32, 64, 80, 96 and 128; any other D up to 128 runs in the next of those
// widths with zero columns past D (loads give 0, stores skip them), which changes no sum.
// Shared memory: two (32, DP) f32 tiles, 32 KB at DP = 128 (static, under the 48 KB default).
#include <cstdint>
#include <string>

#include "kernels/attention.h"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/convert.cuh"

namespace cugpt::kernels {

namespace {

constexpr int kThreads = 128;
constexpr int kTpr = 8;                 // threads per owned row
constexpr int kRows = kThreads / kTpr;  // rows owned by a block
constexpr int kTile = 32;               // rows of the streamed operand per shared tile
constexpr unsigned kFull = 0xffffffffu;
constexpr float kLog2e = 1.4426950408889634f;

struct Params {
  int T = 0, H = 0, D = 0, row_stride = 0;  // D: the real head dim, at most the kernel's DP
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  const void* dout = nullptr;
  void* dq = nullptr;
  void* dk = nullptr;
  void* dv = nullptr;
  const std::int32_t* key_mask = nullptr;
  bool causal = false;
  float scale = 0, scale_log2 = 0;
  float* lse = nullptr;   // (B, H, T)
  float* dsum = nullptr;  // (B, H, T)
};

// Sum over the 8 threads of a row (lanes 8r .. 8r + 7 of a warp). Every thread of a row ends with
// the same bits: each xor step adds the same two values, in either order.
__device__ __forceinline__ float row_sum(float v) {
  v += __shfl_xor_sync(kFull, v, 1);
  v += __shfl_xor_sync(kFull, v, 2);
  v += __shfl_xor_sync(kFull, v, 4);
  return v;
}

__device__ __forceinline__ bool key_visible(const Params& p, std::size_t seq0, int j) {
  return j < p.T && (p.key_mask == nullptr || p.key_mask[seq0 + j] != 0);
}

// Rows [first, first + kTile) of a head's D columns of a (T, stride) matrix into a (kTile, DP)
// shared tile as f32; rows at or past T and columns at or past D are zeros (0 * stale memory
// could be NaN, and zero columns add nothing to a dot product).
template <typename T, int DP>
__device__ __forceinline__ void load_tile(float (*dst)[DP], const T* src, std::size_t stride,
                                          int first, int rows, int D) {
  for (int c = threadIdx.x; c < kTile * DP; c += kThreads) {
    const int r = c / DP, d = c % DP;
    dst[r][d] = first + r < rows && d < D
                    ? to_f32(src[static_cast<std::size_t>(first + r) * stride + d])
                    : 0.f;
  }
}

// This thread's head dims (t, t + 8, ...) of a row, or zeros for a row past T or a dim past D.
template <typename T, int kE>
__device__ __forceinline__ void load_own(float (&dst)[kE], const T* row, int t, int D) {
#pragma unroll
  for (int e = 0; e < kE; ++e) {
    const int d = t + kTpr * e;
    dst[e] = row && d < D ? to_f32(row[d]) : 0.f;
  }
}

template <typename T, int kE>
__device__ __forceinline__ void store_own(T* row, const float (&src)[kE], float mul, int t, int D) {
#pragma unroll
  for (int e = 0; e < kE; ++e) {
    const int d = t + kTpr * e;
    if (d < D) row[d] = from_f32<T>(src[e] * mul);
  }
}

// What every kernel derives from its block index.
struct Place {
  int h, row, t;
  std::size_t seq0, stats;  // first token of the sequence; (b, h, 0) in the statistics
};
__device__ __forceinline__ Place place(const Params& p) {
  Place w;
  w.h = blockIdx.y;
  w.row = blockIdx.x * kRows + threadIdx.x / kTpr;
  w.t = threadIdx.x % kTpr;
  w.seq0 = static_cast<std::size_t>(blockIdx.z) * p.T;
  w.stats = (static_cast<std::size_t>(blockIdx.z) * p.H + w.h) * p.T;
  return w;
}

template <typename T, int DP>
__global__ void __launch_bounds__(kThreads) stats_kernel(Params p) {
  constexpr int kE = DP / kTpr;
  const int D = p.D;
  __shared__ float ks[kTile][DP];
  __shared__ float vs[kTile][DP];
  __shared__ int ok[kTile];
  const Place w = place(p);
  const std::size_t stride = static_cast<std::size_t>(p.row_stride), C = std::size_t(p.H) * D;
  const bool live = w.row < p.T;
  float q[kE], g[kE], o[kE] = {};
  load_own(q, live ? static_cast<const T*>(p.q) + (w.seq0 + w.row) * stride + w.h * D : nullptr,
           w.t, D);
  load_own(g, live ? static_cast<const T*>(p.dout) + (w.seq0 + w.row) * C + w.h * D : nullptr, w.t,
           D);
  const T* kg = static_cast<const T*>(p.k) + w.seq0 * stride + w.h * D;
  const T* vg = static_cast<const T*>(p.v) + w.seq0 * stride + w.h * D;
  float m = -INFINITY, l = 0.f;
  const int kv_end = p.causal ? min(p.T, static_cast<int>(blockIdx.x + 1) * kRows) : p.T;
  for (int k0 = 0; k0 < kv_end; k0 += kTile) {
    __syncthreads();  // the previous tile is no longer read
    load_tile<T, DP>(ks, kg, stride, k0, p.T, D);
    load_tile<T, DP>(vs, vg, stride, k0, p.T, D);
    if (threadIdx.x < kTile) ok[threadIdx.x] = key_visible(p, w.seq0, k0 + threadIdx.x);
    __syncthreads();
    float s[kTile];
    float mx = m;
#pragma unroll
    for (int j = 0; j < kTile; ++j) {
      float acc = 0.f;
#pragma unroll
      for (int e = 0; e < kE; ++e) acc = fmaf(q[e], ks[j][w.t + kTpr * e], acc);
      acc = row_sum(acc);
      const bool visible = ok[j] && (!p.causal || k0 + j <= w.row);
      s[j] = visible ? acc * p.scale_log2 : -INFINITY;
      mx = fmaxf(mx, s[j]);
    }
    // Nothing visible yet: subtract 0, so that no (-inf) - (-inf) is formed.
    const float base = mx == -INFINITY ? 0.f : mx;
    const float alpha = exp2f(m - base);
    m = mx;
    l *= alpha;
#pragma unroll
    for (int e = 0; e < kE; ++e) o[e] *= alpha;
#pragma unroll
    for (int j = 0; j < kTile; ++j) {
      const float pj = exp2f(s[j] - base);  // masked: exp2(-inf) = 0
      l += pj;
#pragma unroll
      for (int e = 0; e < kE; ++e) o[e] = fmaf(pj, vs[j][w.t + kTpr * e], o[e]);
    }
  }
  const float inv = l > 0.f ? 1.f / l : 0.f;
  float dd = 0.f;
#pragma unroll
  for (int e = 0; e < kE; ++e) dd = fmaf(g[e], o[e] * inv, dd);
  dd = row_sum(dd);
  if (live && w.t == 0) {
    p.lse[w.stats + w.row] = l > 0.f ? m + log2f(l) : INFINITY;
    p.dsum[w.stats + w.row] = dd;
  }
}

template <typename T, int DP>
__global__ void __launch_bounds__(kThreads) dq_kernel(Params p) {
  constexpr int kE = DP / kTpr;
  const int D = p.D;
  __shared__ float ks[kTile][DP];
  __shared__ float vs[kTile][DP];
  __shared__ int ok[kTile];
  const Place w = place(p);
  const std::size_t stride = static_cast<std::size_t>(p.row_stride), C = std::size_t(p.H) * D;
  const bool live = w.row < p.T;
  float q[kE], g[kE], dq[kE] = {};
  load_own(q, live ? static_cast<const T*>(p.q) + (w.seq0 + w.row) * stride + w.h * D : nullptr,
           w.t, D);
  load_own(g, live ? static_cast<const T*>(p.dout) + (w.seq0 + w.row) * C + w.h * D : nullptr, w.t,
           D);
  const float lse = live ? p.lse[w.stats + w.row] : INFINITY;
  const float dd = live ? p.dsum[w.stats + w.row] : 0.f;
  const T* kg = static_cast<const T*>(p.k) + w.seq0 * stride + w.h * D;
  const T* vg = static_cast<const T*>(p.v) + w.seq0 * stride + w.h * D;
  const int kv_end = p.causal ? min(p.T, static_cast<int>(blockIdx.x + 1) * kRows) : p.T;
  for (int k0 = 0; k0 < kv_end; k0 += kTile) {
    __syncthreads();
    load_tile<T, DP>(ks, kg, stride, k0, p.T, D);
    load_tile<T, DP>(vs, vg, stride, k0, p.T, D);
    if (threadIdx.x < kTile) ok[threadIdx.x] = key_visible(p, w.seq0, k0 + threadIdx.x);
    __syncthreads();
#pragma unroll 4
    for (int j = 0; j < kTile; ++j) {
      float s = 0.f, dp = 0.f;
#pragma unroll
      for (int e = 0; e < kE; ++e) {
        s = fmaf(q[e], ks[j][w.t + kTpr * e], s);
        dp = fmaf(g[e], vs[j][w.t + kTpr * e], dp);
      }
      s = row_sum(s);
      dp = row_sum(dp);
      const bool visible = ok[j] && (!p.causal || k0 + j <= w.row);
      // lse = +inf (no visible key in the row): exp2(-inf) = 0.
      const float pj = visible ? exp2f(s * p.scale_log2 - lse) : 0.f;
      const float ds = pj * (dp - dd);
#pragma unroll
      for (int e = 0; e < kE; ++e) dq[e] = fmaf(ds, ks[j][w.t + kTpr * e], dq[e]);
    }
  }
  if (live)
    store_own(static_cast<T*>(p.dq) + (w.seq0 + w.row) * stride + w.h * D, dq, p.scale, w.t, D);
}

template <typename T, int DP>
__global__ void __launch_bounds__(kThreads) dkdv_kernel(Params p) {
  constexpr int kE = DP / kTpr;
  const int D = p.D;
  __shared__ float qs[kTile][DP];
  __shared__ float gs[kTile][DP];
  __shared__ float lse_s[kTile], dd_s[kTile];
  const Place w = place(p);  // w.row is this thread's key
  const std::size_t stride = static_cast<std::size_t>(p.row_stride), C = std::size_t(p.H) * D;
  const bool live = w.row < p.T;
  const bool key_ok = live && key_visible(p, w.seq0, w.row);
  float kk[kE], vv[kE], dk[kE] = {}, dv[kE] = {};
  load_own(kk, live ? static_cast<const T*>(p.k) + (w.seq0 + w.row) * stride + w.h * D : nullptr,
           w.t, D);
  load_own(vv, live ? static_cast<const T*>(p.v) + (w.seq0 + w.row) * stride + w.h * D : nullptr,
           w.t, D);
  const T* qg = static_cast<const T*>(p.q) + w.seq0 * stride + w.h * D;
  const T* gg = static_cast<const T*>(p.dout) + w.seq0 * C + w.h * D;
  // Causal: a query before the block's first key sees none of its keys.
  const int q_begin = p.causal ? static_cast<int>(blockIdx.x) * kRows : 0;
  for (int i0 = q_begin; i0 < p.T; i0 += kTile) {
    __syncthreads();
    load_tile<T, DP>(qs, qg, stride, i0, p.T, D);
    load_tile<T, DP>(gs, gg, C, i0, p.T, D);
    if (threadIdx.x < kTile) {
      const int i = i0 + threadIdx.x;
      lse_s[threadIdx.x] = i < p.T ? p.lse[w.stats + i] : INFINITY;
      dd_s[threadIdx.x] = i < p.T ? p.dsum[w.stats + i] : 0.f;
    }
    __syncthreads();
#pragma unroll 4
    for (int i = 0; i < kTile; ++i) {
      float s = 0.f, dp = 0.f;
#pragma unroll
      for (int e = 0; e < kE; ++e) {
        s = fmaf(kk[e], qs[i][w.t + kTpr * e], s);
        dp = fmaf(vv[e], gs[i][w.t + kTpr * e], dp);
      }
      s = row_sum(s);
      dp = row_sum(dp);
      const bool visible = key_ok && (!p.causal || w.row <= i0 + i);
      const float pj = visible ? exp2f(s * p.scale_log2 - lse_s[i]) : 0.f;
      const float ds = pj * (dp - dd_s[i]);
#pragma unroll
      for (int e = 0; e < kE; ++e) {
        dv[e] = fmaf(pj, gs[i][w.t + kTpr * e], dv[e]);
        dk[e] = fmaf(ds, qs[i][w.t + kTpr * e], dk[e]);
      }
    }
  }
  if (!live) return;
  store_own(static_cast<T*>(p.dk) + (w.seq0 + w.row) * stride + w.h * D, dk, p.scale, w.t, D);
  store_own(static_cast<T*>(p.dv) + (w.seq0 + w.row) * stride + w.h * D, dv, 1.f, w.t, D);
}

template <typename T, int D>
void launch(const Params& p, int B, Stream stream) {
  const dim3 grid(static_cast<unsigned>((p.T + kRows - 1) / kRows), static_cast<unsigned>(p.H),
                  static_cast<unsigned>(B));
  stats_kernel<T, D><<<grid, kThreads, 0, stream>>>(p);
  CUDA_LAUNCH_CHECK();
  dkdv_kernel<T, D><<<grid, kThreads, 0, stream>>>(p);
  CUDA_LAUNCH_CHECK();
  dq_kernel<T, D><<<grid, kThreads, 0, stream>>>(p);
  CUDA_LAUNCH_CHECK();
}

template <int D>
void launch_dim(const Params& p, int B, DType dtype, Stream stream) {
  dispatch_dtype("attention_backward", dtype, [&](auto zero) {
    using T = decltype(zero);
    launch<T, D>(p, B, stream);
  });
}

}  // namespace

void attention_backward_cuda(const AttentionBackwardCudaArgs& a, Stream stream) {
  if (a.dtype != DType::f32 && a.dtype != DType::f16 && a.dtype != DType::bf16)
    throw Error(std::string("attention_backward: no CUDA kernel for ") + dtype_name(a.dtype) +
                " (supported: f32, f16, bf16)");
  if (a.D < 1 || a.D > 128)
    throw Error("attention_backward: no CUDA kernel for head dim " + std::to_string(a.D) +
                " (supported: 1 to 128)");
  CUGPT_CHECK(a.B >= 0 && a.T >= 0 && a.H > 0 && a.row_stride >= a.H * a.D,
              "attention_backward: bad sizes");
  if (a.B == 0 || a.T == 0) return;
  CUGPT_CHECK(a.q && a.k && a.v && a.dout && a.dq && a.dk && a.dv,
              "attention_backward: null pointer");
  CUGPT_CHECK(a.workspace, "attention_backward: no workspace for the row statistics");
  CUGPT_CHECK(a.H <= 65535 && a.B <= 65535, "attention_backward: B and H must be at most 65535");
  // v2 (attention_backward_fa2.cu) when chosen and it covers the case; v1 below otherwise.
  const AttentionKernel kind =
      a.kernel == AttentionKernel::from_env ? attention_kernel_from_env() : a.kernel;
  if (kind == AttentionKernel::v2 && attention_backward_fa2_supported(a))
    return attention_backward_fa2_cuda(a, stream);

  Params p;
  p.T = a.T, p.H = a.H, p.D = a.D, p.row_stride = a.row_stride;
  p.q = a.q, p.k = a.k, p.v = a.v, p.dout = a.dout;
  p.dq = a.dq, p.dk = a.dk, p.dv = a.dv;
  p.key_mask = a.key_mask;
  p.causal = a.causal;
  p.scale = a.scale;
  p.scale_log2 = a.scale * kLog2e;
  const std::size_t rows = static_cast<std::size_t>(a.B) * a.H * a.T;
  p.lse = a.workspace;
  p.dsum = a.workspace + rows;
  // The kernels' width: the head dim itself for 32, 64, 80, 96 and 128, else the next of those
  // (the tiny configs' D = 8 runs as 32 with zero columns).
  if (a.D <= 32) return launch_dim<32>(p, a.B, a.dtype, stream);
  if (a.D <= 64) return launch_dim<64>(p, a.B, a.dtype, stream);
  if (a.D <= 80) return launch_dim<80>(p, a.B, a.dtype, stream);
  if (a.D <= 96) return launch_dim<96>(p, a.B, a.dtype, stream);
  return launch_dim<128>(p, a.B, a.dtype, stream);
}

}  // namespace cugpt::kernels
