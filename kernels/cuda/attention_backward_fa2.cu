// Attention backward v2 on tensor cores (bf16/f16, head dims 32, 64, 80, 128, f32 accumulation).
// With P = softmax(scale q k^T) per query row and D_i = rowsum(P o dP) = dout_i . out_i:
//   dv_j = sum_i P_ij dout_i,  dS_ij = P_ij (dout_i . v_j - D_i),
//   dk_j = scale sum_i dS_ij q_i,  dq_i = scale sum_j dS_ij k_j.
// Three passes, 4 warps a block, every product on mma.sync m16n8k16 (ldmatrix / ldmatrix.trans
// fragments, the streamed operand double-buffered with cp.async):
//  1. row statistics into the workspace, (B, H, T) each: lse2 (base 2, of the scaled scores;
//     +inf for a row with no visible key, so that its P is 0) and D_i. From the forward's saved
//     out and lse when the caller has them (a pass over out and dout only); otherwise recomputed
//     by a forward-like pass (online softmax over S = Q K^T with dP = dO V^T alongside).
//  2. dk, dv: a block owns 64 keys, 16 per warp, and walks the query tiles: S^T = K Q^T and
//     dP^T = V dO^T give P^T and dS^T once per (key block, query tile), in registers, which are
//     directly the A fragments of dV += P^T dO and dK += dS^T Q.
//  3. dq: a block owns 64 query rows, 16 per warp, and walks the key tiles: dQ += dS K.
// Every gradient row is written once by the warp that owns it after a fixed-order accumulation:
// no atomics, the same bits on every run. Only the head's own D columns are written; masked keys
// get zero dk and dv, rows with no visible key zero dq. Design: docs/attention-kernel.md ("v2").
#include <cstdint>
#include <string>

#include "kernels/attention.h"
#include "kernels/cuda/attention_fa2.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/convert.cuh"

namespace cugpt::kernels {

namespace {

using namespace fa2;

constexpr int kWarps = 4, kThreads = 32 * kWarps;
constexpr int kRows = 16 * kWarps;  // rows (queries or keys) a block owns

struct Params {
  int T = 0, H = 0, row_stride = 0;
  const std::uint16_t *q = nullptr, *k = nullptr, *v = nullptr, *dout = nullptr;
  std::uint16_t *dq = nullptr, *dk = nullptr, *dv = nullptr;
  const std::uint16_t* out = nullptr;  // saved forward output, or nullptr
  const float* lse_saved = nullptr;    // (B, H, T) natural log, or nullptr
  const std::int32_t* key_mask = nullptr;
  bool causal = false;
  float scale = 0, scale_log2 = 0;
  float* lse = nullptr;   // workspace (B, H, T): base-2 lse of the scaled scores
  float* dsum = nullptr;  // workspace (B, H, T): D_i
};

// The streamed tile of the dq and stats passes: 64 keys, 32 at D = 128 (registers, shared memory).
template <int D>
constexpr int key_tile() {
  return D == 128 ? 32 : 64;
}
// The streamed tile of the dk/dv pass: query rows.
template <int D>
constexpr int query_tile() {
  return D == 128 ? 32 : 64;
}

template <typename T>
__device__ __forceinline__ float bits_f32(std::uint16_t x) {
  T v;
  memcpy(&v, &x, 2);
  return to_f32(v);
}

// Pass 1 from the saved forward: one thread per (token, head), D_i = dout_i . out_i in f32.
template <typename T>
__global__ void saved_stats_kernel(Params p, int D, int B) {
  const std::size_t n = static_cast<std::size_t>(B) * p.T * p.H;
  const std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int h = static_cast<int>(i % p.H);
  const std::size_t tok = i / p.H;  // b * T + t
  const std::size_t b = tok / p.T, t = tok % p.T;
  const std::size_t at = tok * static_cast<std::size_t>(p.H) * D + static_cast<std::size_t>(h) * D;
  float acc = 0.f;
  for (int d = 0; d < D; d += 8) {
    union {
      uint4 u;
      std::uint16_t h[8];
    } go, oo;
    go.u = *reinterpret_cast<const uint4*>(p.dout + at + d);
    oo.u = *reinterpret_cast<const uint4*>(p.out + at + d);
#pragma unroll
    for (int e = 0; e < 8; ++e) acc = fmaf(bits_f32<T>(go.h[e]), bits_f32<T>(oo.h[e]), acc);
  }
  const std::size_t stat = (b * p.H + h) * p.T + t;
  const float l = p.lse_saved[stat];
  p.lse[stat] = l == -INFINITY ? INFINITY : l * kLog2e;
  p.dsum[stat] = acc;
}

// Visible keys [k0, k0 + Bc) as Bc / 32 masks, the same in every lane of the warp.
template <int Bc>
__device__ __forceinline__ void visible_keys(std::uint32_t (&vis)[Bc / 32], const Params& p,
                                             std::size_t seq0, int k0, int lane) {
#pragma unroll
  for (int w = 0; w < Bc / 32; ++w) {
    const int key = k0 + 32 * w + lane;
    vis[w] =
        __ballot_sync(kFull, key < p.T && (p.key_mask == nullptr || p.key_mask[seq0 + key] != 0));
  }
}

// Passes 1 (kStats: lse2 and D_i recomputed) and 3 (dq). A block owns kRows query rows, a warp
// 16 of them; K and V stream in tiles of Bc keys through two cp.async stages.
template <typename T, int D, bool kStats>
__global__ void __launch_bounds__(kThreads) query_pass_kernel(Params p) {
  constexpr int LD = D + 8, Bc = key_tile<D>();
  extern __shared__ __align__(16) std::uint16_t smem[];
  std::uint16_t* qs = smem;              // (kRows, D), then this warp's dq staging
  std::uint16_t* gs = qs + kRows * LD;   // (kRows, D) of dout
  std::uint16_t* st0 = gs + kRows * LD;  // stage 0: K (Bc, D), V (Bc, D); stage 1 after it
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int q0 = (gridDim.x - 1 - blockIdx.x) * kRows, h = blockIdx.y;
  const std::size_t seq0 = static_cast<std::size_t>(blockIdx.z) * p.T;
  const std::size_t stride = p.row_stride, C = static_cast<std::size_t>(p.H) * D;
  const std::size_t stat0 = (static_cast<std::size_t>(blockIdx.z) * p.H + h) * p.T;
  const std::uint16_t* kg = p.k + seq0 * stride + h * D;
  const std::uint16_t* vg = p.v + seq0 * stride + h * D;
  const int kv_end = p.causal ? min(p.T, q0 + kRows) : p.T;
  const int tiles = (kv_end + Bc - 1) / Bc;

  load_rows_async<D, LD, kRows, kThreads>(qs, p.q + seq0 * stride + h * D, stride, q0, p.T);
  load_rows_async<D, LD, kRows, kThreads>(gs, p.dout + seq0 * C + h * D, C, q0, p.T);
  load_rows_async<D, LD, Bc, kThreads>(st0, kg, stride, 0, p.T);
  load_rows_async<D, LD, Bc, kThreads>(st0 + Bc * LD, vg, stride, 0, p.T);
  cp_async_commit();

  const int wr0 = q0 + warp * 16, row0 = wr0 + g, row1 = row0 + 8;
  float lse[2] = {INFINITY, INFINITY}, dd[2] = {0.f, 0.f};  // pass 3: this thread's two rows
  if (!kStats) {
    if (row0 < p.T) lse[0] = p.lse[stat0 + row0], dd[0] = p.dsum[stat0 + row0];
    if (row1 < p.T) lse[1] = p.lse[stat0 + row1], dd[1] = p.dsum[stat0 + row1];
  }
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f}, acc[2] = {0.f, 0.f};  // pass 1
  float dq[D / 8][4] = {};                                                      // pass 3
  std::uint32_t qf[D / 16][4], gf[D / 16][4];  // this warp's Q and dout rows as A fragments

  for (int j = 0; j < tiles; ++j) {
    if (j + 1 < tiles) {
      std::uint16_t* next = st0 + ((j + 1) & 1) * 2 * Bc * LD;
      load_rows_async<D, LD, Bc, kThreads>(next, kg, stride, (j + 1) * Bc, p.T);
      load_rows_async<D, LD, Bc, kThreads>(next + Bc * LD, vg, stride, (j + 1) * Bc, p.T);
    }
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    if (j == 0) {
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        load_a<LD>(qf[kk], qs + warp * 16 * LD + kk * 16, lane);
        load_a<LD>(gf[kk], gs + warp * 16 * LD + kk * 16, lane);
      }
    }
    const int k0 = j * Bc;
    const std::uint16_t* ks = st0 + (j & 1) * 2 * Bc * LD;
    const std::uint16_t* vs = ks + Bc * LD;
    std::uint32_t vis[Bc / 32];
    visible_keys<Bc>(vis, p, seq0, k0, lane);
    if (!(p.causal && k0 > wr0 + 15)) {  // else the whole tile is above this warp's diagonal
      bool all_visible = true;
#pragma unroll
      for (int w = 0; w < Bc / 32; ++w) all_visible = all_visible && vis[w] == kFull;
      const bool need_mask = !all_visible || (p.causal && k0 + Bc - 1 > wr0);
      float s[Bc / 8][4] = {}, dp[Bc / 8][4] = {};  // S = Q K^T, dP = dO V^T: (16, Bc)
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk)
#pragma unroll
        for (int np = 0; np < Bc / 16; ++np) {
          std::uint32_t b[4];
          load_b_rows<LD>(b, ks + np * 16 * LD + kk * 16, lane);
          mma<T>(s[2 * np], qf[kk], b[0], b[1]);
          mma<T>(s[2 * np + 1], qf[kk], b[2], b[3]);
          load_b_rows<LD>(b, vs + np * 16 * LD + kk * 16, lane);
          mma<T>(dp[2 * np], gf[kk], b[0], b[1]);
          mma<T>(dp[2 * np + 1], gf[kk], b[2], b[3]);
        }
      float mx[2] = {m[0], m[1]};
#pragma unroll
      for (int n = 0; n < Bc / 8; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          float x = s[n][e] * p.scale_log2;
          if (need_mask) {
            const int jj = n * 8 + 2 * t + (e & 1);
            const bool visible = ((vis[jj / 32] >> (jj % 32)) & 1u) &&
                                 (!p.causal || k0 + jj <= (e < 2 ? row0 : row1));
            x = visible ? x : -INFINITY;
          }
          s[n][e] = x;
          if (kStats) mx[e / 2] = fmaxf(mx[e / 2], x);
        }
      if (kStats) {
        // Online softmax as in the forward; acc = sum_j exp2(s_j - m) dP_j, rescaled alike.
        float base[2];
#pragma unroll
        for (int i = 0; i < 2; ++i) {
          mx[i] = fmaxf(mx[i], __shfl_xor_sync(kFull, mx[i], 1));
          mx[i] = fmaxf(mx[i], __shfl_xor_sync(kFull, mx[i], 2));
          base[i] = softmax_base(mx[i]);
          const float alpha = exp2f(m[i] - base[i]);
          m[i] = mx[i], l[i] *= alpha, acc[i] *= alpha;
        }
#pragma unroll
        for (int n = 0; n < Bc / 8; ++n)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const float pe = exp2f(s[n][e] - base[e / 2]);
            l[e / 2] += pe;
            acc[e / 2] = fmaf(pe, dp[n][e], acc[e / 2]);
          }
      } else {
        // dS = P (dP - D_i), P from the saved statistics; then dQ += dS K (K by ldmatrix.trans).
#pragma unroll
        for (int n = 0; n < Bc / 8; ++n)
#pragma unroll
          for (int e = 0; e < 4; ++e)
            s[n][e] = exp2f(s[n][e] - lse[e / 2]) * (dp[n][e] - dd[e / 2]);
#pragma unroll
        for (int ks_ = 0; ks_ < Bc / 16; ++ks_) {
          const std::uint32_t a[4] = {pack2<T>(s[2 * ks_][0], s[2 * ks_][1]),
                                      pack2<T>(s[2 * ks_][2], s[2 * ks_][3]),
                                      pack2<T>(s[2 * ks_ + 1][0], s[2 * ks_ + 1][1]),
                                      pack2<T>(s[2 * ks_ + 1][2], s[2 * ks_ + 1][3])};
#pragma unroll
          for (int ndp = 0; ndp < D / 16; ++ndp) {
            std::uint32_t b[4];
            load_b_trans<LD>(b, ks + ks_ * 16 * LD + ndp * 16, lane);
            mma<T>(dq[2 * ndp], a, b[0], b[1]);
            mma<T>(dq[2 * ndp + 1], a, b[2], b[3]);
          }
        }
      }
    }
    __syncthreads();  // this stage may be refilled by the next iteration
  }

  if (kStats) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      l[i] += __shfl_xor_sync(kFull, l[i], 1);
      l[i] += __shfl_xor_sync(kFull, l[i], 2);
      acc[i] += __shfl_xor_sync(kFull, acc[i], 1);
      acc[i] += __shfl_xor_sync(kFull, acc[i], 2);
    }
    if (t == 0) {
      const int rows[2] = {row0, row1};
#pragma unroll
      for (int i = 0; i < 2; ++i)
        if (rows[i] < p.T) {
          p.lse[stat0 + rows[i]] = l[i] > 0.f ? m[i] + log2f(l[i]) : INFINITY;
          p.dsum[stat0 + rows[i]] = l[i] > 0.f ? acc[i] / l[i] : 0.f;
        }
    }
  } else {
    const float mul[2] = {p.scale, p.scale};
    store_tile16<T, D, LD>(qs + warp * 16 * LD, dq, mul, p.dq + seq0 * stride + h * D, stride, wr0,
                           p.T, lane);
  }
}

// Pass 2: a block owns kRows keys, a warp 16 of them; Q, dout and the row statistics stream in
// tiles of Bq query rows through two cp.async stages.
template <typename T, int D>
__global__ void __launch_bounds__(kThreads) dkdv_kernel(Params p) {
  constexpr int LD = D + 8, Bq = query_tile<D>();
  constexpr int kStage = 2 * Bq * LD + 4 * Bq;  // Q, dout (16-bit) + lse2, D_i (f32) tiles
  extern __shared__ __align__(16) std::uint16_t smem[];
  std::uint16_t* ks = smem;              // (kRows, D); then this warp's dk staging
  std::uint16_t* vs = ks + kRows * LD;   // (kRows, D); then this warp's dv staging
  std::uint16_t* st0 = vs + kRows * LD;  // stages: Q, dout, lse2, D_i
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int k0 = blockIdx.x * kRows, h = blockIdx.y;
  const std::size_t seq0 = static_cast<std::size_t>(blockIdx.z) * p.T;
  const std::size_t stride = p.row_stride, C = static_cast<std::size_t>(p.H) * D;
  const std::size_t stat0 = (static_cast<std::size_t>(blockIdx.z) * p.H + h) * p.T;
  const std::uint16_t* qg = p.q + seq0 * stride + h * D;
  const std::uint16_t* gg = p.dout + seq0 * C + h * D;
  const int q_begin = p.causal ? k0 : 0;  // causal: earlier queries see none of these keys
  const int tiles = q_begin < p.T ? (p.T - q_begin + Bq - 1) / Bq : 0;

  // Rows past T are zeros in Q and dout, so their S and dS are 0 whatever lse2 they read (0).
  auto load_stage = [&](int s, int i0) {
    std::uint16_t* base = st0 + s * kStage;
    load_rows_async<D, LD, Bq, kThreads>(base, qg, stride, i0, p.T);
    load_rows_async<D, LD, Bq, kThreads>(base + Bq * LD, gg, C, i0, p.T);
    float* f = reinterpret_cast<float*>(base + 2 * Bq * LD);
    for (int r = threadIdx.x; r < 2 * Bq; r += kThreads) {
      const int i = i0 + r % Bq;
      const float* src = (r < Bq ? p.lse : p.dsum) + stat0;
      cp_async4(f + r, i < p.T ? src + i : src, i < p.T);
    }
  };
  load_rows_async<D, LD, kRows, kThreads>(ks, p.k + seq0 * stride + h * D, stride, k0, p.T);
  load_rows_async<D, LD, kRows, kThreads>(vs, p.v + seq0 * stride + h * D, stride, k0, p.T);
  if (tiles > 0) load_stage(0, q_begin);
  cp_async_commit();

  const int kw0 = k0 + warp * 16, key0 = kw0 + g, key1 = key0 + 8;
  auto key_ok = [&](int j) {
    return j < p.T && (p.key_mask == nullptr || p.key_mask[seq0 + j] != 0);
  };
  const bool ok[2] = {key_ok(key0), key_ok(key1)};
  const bool all_ok = __all_sync(kFull, ok[0] && ok[1]);
  float dk[D / 8][4] = {}, dv[D / 8][4] = {};

  for (int j = 0; j < tiles; ++j) {
    if (j + 1 < tiles) load_stage((j + 1) & 1, q_begin + (j + 1) * Bq);
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    const int i0 = q_begin + j * Bq;
    const std::uint16_t* qt = st0 + (j & 1) * kStage;
    const std::uint16_t* gt = qt + Bq * LD;
    const float* lse_t = reinterpret_cast<const float*>(gt + Bq * LD);
    const float* dd_t = lse_t + Bq;
    if (!(p.causal && i0 + Bq - 1 < kw0)) {  // else every query precedes this warp's keys
      const bool need_mask = !all_ok || (p.causal && i0 < kw0 + 15);
      float s[Bq / 8][4] = {}, dp[Bq / 8][4] = {};  // S^T = K Q^T, dP^T = V dO^T: (16, Bq)
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        std::uint32_t ka[4], va[4];
        load_a<LD>(ka, ks + warp * 16 * LD + kk * 16, lane);
        load_a<LD>(va, vs + warp * 16 * LD + kk * 16, lane);
#pragma unroll
        for (int np = 0; np < Bq / 16; ++np) {
          std::uint32_t b[4];
          load_b_rows<LD>(b, qt + np * 16 * LD + kk * 16, lane);
          mma<T>(s[2 * np], ka, b[0], b[1]);
          mma<T>(s[2 * np + 1], ka, b[2], b[3]);
          load_b_rows<LD>(b, gt + np * 16 * LD + kk * 16, lane);
          mma<T>(dp[2 * np], va, b[0], b[1]);
          mma<T>(dp[2 * np + 1], va, b[2], b[3]);
        }
      }
      // P^T and dS^T in place: s becomes P^T, dp becomes dS^T (column = query).
#pragma unroll
      for (int n = 0; n < Bq / 8; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int ii = n * 8 + 2 * t + (e & 1);
          float pe = exp2f(s[n][e] * p.scale_log2 - lse_t[ii]);
          if (need_mask) {
            const bool visible = ok[e / 2] && (!p.causal || (e < 2 ? key0 : key1) <= i0 + ii);
            pe = visible ? pe : 0.f;
          }
          s[n][e] = pe;
          dp[n][e] = pe * (dp[n][e] - dd_t[ii]);
        }
        // dV += P^T dO and dK += dS^T Q: the accumulators of query tiles 2ks, 2ks + 1 are the A
        // fragment of step ks; dO and Q by ldmatrix.trans (k = query, n = head dim).
#pragma unroll
      for (int ks_ = 0; ks_ < Bq / 16; ++ks_) {
        const std::uint32_t pa[4] = {pack2<T>(s[2 * ks_][0], s[2 * ks_][1]),
                                     pack2<T>(s[2 * ks_][2], s[2 * ks_][3]),
                                     pack2<T>(s[2 * ks_ + 1][0], s[2 * ks_ + 1][1]),
                                     pack2<T>(s[2 * ks_ + 1][2], s[2 * ks_ + 1][3])};
        const std::uint32_t da[4] = {pack2<T>(dp[2 * ks_][0], dp[2 * ks_][1]),
                                     pack2<T>(dp[2 * ks_][2], dp[2 * ks_][3]),
                                     pack2<T>(dp[2 * ks_ + 1][0], dp[2 * ks_ + 1][1]),
                                     pack2<T>(dp[2 * ks_ + 1][2], dp[2 * ks_ + 1][3])};
#pragma unroll
        for (int ndp = 0; ndp < D / 16; ++ndp) {
          std::uint32_t b[4];
          load_b_trans<LD>(b, gt + ks_ * 16 * LD + ndp * 16, lane);
          mma<T>(dv[2 * ndp], pa, b[0], b[1]);
          mma<T>(dv[2 * ndp + 1], pa, b[2], b[3]);
          load_b_trans<LD>(b, qt + ks_ * 16 * LD + ndp * 16, lane);
          mma<T>(dk[2 * ndp], da, b[0], b[1]);
          mma<T>(dk[2 * ndp + 1], da, b[2], b[3]);
        }
      }
    }
    __syncthreads();
  }
  // A warp's K and V rows are read by that warp only: they now stage its dk and dv.
  const float mk[2] = {p.scale, p.scale}, mv[2] = {1.f, 1.f};
  store_tile16<T, D, LD>(ks + warp * 16 * LD, dk, mk, p.dk + seq0 * stride + h * D, stride, kw0,
                         p.T, lane);
  store_tile16<T, D, LD>(vs + warp * 16 * LD, dv, mv, p.dv + seq0 * stride + h * D, stride, kw0,
                         p.T, lane);
}

template <typename Kernel>
void set_smem(Kernel kernel, int bytes) {
  CUGPT_CHECK(bytes <= 99 * 1024, "attention_backward v2: shared memory over sm_86's 99 KB");
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
}

template <typename T, int D>
void launch(const Params& p, int B, Stream stream) {
  constexpr int LD = D + 8, Bc = key_tile<D>(), Bq = query_tile<D>();
  constexpr int query_bytes = (2 * kRows + 4 * Bc) * LD * 2;
  constexpr int key_bytes = (2 * kRows * LD + 2 * (2 * Bq * LD + 4 * Bq)) * 2;
  static const bool once = [] {
    set_smem(query_pass_kernel<T, D, true>, query_bytes);
    set_smem(query_pass_kernel<T, D, false>, query_bytes);
    set_smem(dkdv_kernel<T, D>, key_bytes);
    return true;
  }();
  (void)once;
  const dim3 grid((p.T + kRows - 1) / kRows, p.H, B);
  if (p.out != nullptr && p.lse_saved != nullptr) {
    const std::size_t n = static_cast<std::size_t>(B) * p.T * p.H;
    saved_stats_kernel<T><<<static_cast<unsigned>((n + 255) / 256), 256, 0, stream>>>(p, D, B);
  } else {
    query_pass_kernel<T, D, true><<<grid, kThreads, query_bytes, stream>>>(p);
  }
  CUDA_LAUNCH_CHECK();
  dkdv_kernel<T, D><<<grid, kThreads, key_bytes, stream>>>(p);
  CUDA_LAUNCH_CHECK();
  query_pass_kernel<T, D, false><<<grid, kThreads, query_bytes, stream>>>(p);
  CUDA_LAUNCH_CHECK();
}

template <typename T>
void launch_dim(const Params& p, int B, int D, Stream stream) {
  switch (D) {
    case 32:
      return launch<T, 32>(p, B, stream);
    case 64:
      return launch<T, 64>(p, B, stream);
    case 80:
      return launch<T, 80>(p, B, stream);
    default:
      return launch<T, 128>(p, B, stream);
  }
}

bool aligned16(const void* ptr) {
  return reinterpret_cast<std::uintptr_t>(ptr) % 16 == 0;
}

}  // namespace

bool attention_backward_fa2_supported(const AttentionBackwardCudaArgs& a) {
  const bool dim = a.D == 32 || a.D == 64 || a.D == 80 || a.D == 128;
  const bool dtype = a.dtype == DType::bf16 || a.dtype == DType::f16;
  return dim && dtype && a.row_stride % 8 == 0 && aligned16(a.q) && aligned16(a.k) &&
         aligned16(a.v) && aligned16(a.dout) && aligned16(a.dq) && aligned16(a.dk) &&
         aligned16(a.dv) && aligned16(a.out);
}

void attention_backward_fa2_cuda(const AttentionBackwardCudaArgs& a, Stream stream) {
  CUGPT_CHECK(a.B >= 0 && a.T >= 0 && a.H > 0 && a.D > 0 && a.row_stride >= a.H * a.D,
              "attention_backward: bad sizes");
  if (a.B == 0 || a.T == 0) return;
  CUGPT_CHECK(a.q && a.k && a.v && a.dout && a.dq && a.dk && a.dv,
              "attention_backward: null pointer");
  CUGPT_CHECK(a.workspace, "attention_backward: no workspace for the row statistics");
  CUGPT_CHECK(a.H <= 65535 && a.B <= 65535, "attention_backward: B and H must be at most 65535");
  if (!attention_backward_fa2_supported(a))
    throw Error(
        "attention_backward v2: needs bf16/f16, head dim 32, 64, 80 or 128, 16-byte "
        "aligned buffers and a row stride a multiple of 8 (got " +
        std::string(dtype_name(a.dtype)) + ", D = " + std::to_string(a.D) + ")");
  Params p;
  p.T = a.T, p.H = a.H, p.row_stride = a.row_stride;
  p.q = static_cast<const std::uint16_t*>(a.q);
  p.k = static_cast<const std::uint16_t*>(a.k);
  p.v = static_cast<const std::uint16_t*>(a.v);
  p.dout = static_cast<const std::uint16_t*>(a.dout);
  p.dq = static_cast<std::uint16_t*>(a.dq);
  p.dk = static_cast<std::uint16_t*>(a.dk);
  p.dv = static_cast<std::uint16_t*>(a.dv);
  p.out = static_cast<const std::uint16_t*>(a.out);
  p.lse_saved = a.lse;
  p.key_mask = a.key_mask;
  p.causal = a.causal;
  p.scale = a.scale;
  p.scale_log2 = a.scale * kLog2e;
  const std::size_t rows = static_cast<std::size_t>(a.B) * a.H * a.T;
  p.lse = a.workspace;
  p.dsum = a.workspace + rows;
  if (a.dtype == DType::bf16) return launch_dim<__nv_bfloat16>(p, a.B, a.D, stream);
  return launch_dim<__half>(p, a.B, a.D, stream);
}

}  // namespace cugpt::kernels
