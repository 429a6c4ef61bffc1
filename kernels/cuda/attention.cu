// Fused multi-head attention forward, flash-attention style: one block per (query tile, head,
// batch) walks the key tiles, keeps a running max m and sum l per query row and rescales its f32
// output accumulator, so no T x T matrix ever reaches device memory. Design notes, shared memory
// budget and register counts: docs/attention-kernel.md.
//
// Two variants share the tiling idea:
//  - bf16/f16: 4 warps x 16 query rows (Br = 64), tensor cores (mma.sync m16n8k16, f32
//    accumulators) for S = Q K^T and O += P V. The S accumulator fragment of two adjacent 8-key
//    tiles is exactly the A fragment of a 16-key step, so P never leaves registers.
//  - f32: scalar FMAs; 4 threads per query row (Br = 32), each owning a quarter of the head dims.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <string>

#include "kernels/attention.h"
#include "kernels/cuda/attention_generic.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/mma.cuh"

namespace cugpt::kernels {

namespace {

constexpr int kThreads = 128;  // 4 warps
constexpr unsigned kFull = 0xffffffffu;
constexpr float kLog2e = 1.4426950408889634f;

// What every variant reads, by value.
struct Params {
  int T = 0, H = 0, row_stride = 0;
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* out = nullptr;  // (B, T, H*D)
  const std::int32_t* key_mask = nullptr;
  bool causal = false;
  bool vec = false;      // q, k, v rows are 16-byte aligned: load 16 bytes at a time
  float scale_log2 = 0;  // scale * log2(e): softmax in base 2 (exp2f is one instruction)
};

// Key j of sequence b exists and is not padding.
__device__ __forceinline__ int key_visible(const Params& p, std::size_t seq0, int j) {
  return j < p.T && (p.key_mask == nullptr || p.key_mask[seq0 + j] != 0);
}

// What a row subtracts before exp2, given its new running max mx: mx itself, or 0 while every key
// seen so far is masked (mx = -inf), so that neither exp2(s - base) nor the rescale factor
// exp2(m_old - base) ever computes (-inf) - (-inf).
__device__ __forceinline__ float softmax_base(float mx) {
  return mx == -INFINITY ? 0.f : mx;
}

// ---------------------------------------------------------------------------------------------
// f32: scalar path. Thread (r, t) = (threadIdx / 4, threadIdx % 4) owns query row q0 + r and the
// float4 chunks t, t + 4, t + 8, ... of its D columns (for q and for the output). A score is the
// quad's four partial dot products summed with two xor shuffles; all four threads then hold the
// same scores (the butterfly adds the same pairs in both orders) and run the softmax redundantly.

__device__ __forceinline__ float4 load4(const float* src, bool vec) {
  if (vec) return *reinterpret_cast<const float4*>(src);
  return make_float4(src[0], src[1], src[2], src[3]);
}

template <int D>
__global__ void __launch_bounds__(kThreads) attention_f32_kernel(Params p) {
  constexpr int Br = kThreads / 4, Bc = 32;
  constexpr int kRowChunks = D / 4;       // float4 chunks in a row of one head
  constexpr int kMine = kRowChunks / 4;   // chunks per thread
  __shared__ float4 ks[Bc * kRowChunks];  // (Bc, D)
  __shared__ float4 vs[Bc * kRowChunks];  // (Bc, D)
  __shared__ int ok[Bc];

  const int r = threadIdx.x / 4, t = threadIdx.x % 4;
  // Last query tile first: under causal masking it has the most key tiles.
  const int q0 = (gridDim.x - 1 - blockIdx.x) * Br, h = blockIdx.y;
  const std::size_t seq0 = static_cast<std::size_t>(blockIdx.z) * p.T;
  const std::size_t stride = static_cast<std::size_t>(p.row_stride);
  const float* qg = static_cast<const float*>(p.q) + seq0 * stride + h * D;
  const float* kg = static_cast<const float*>(p.k) + seq0 * stride + h * D;
  const float* vg = static_cast<const float*>(p.v) + seq0 * stride + h * D;
  const int row = q0 + r;
  const float4 zero = make_float4(0.f, 0.f, 0.f, 0.f);

  float4 q[kMine], o[kMine];
#pragma unroll
  for (int i = 0; i < kMine; ++i) {
    q[i] = row < p.T ? load4(qg + row * stride + 4 * (t + 4 * i), p.vec) : zero;
    o[i] = zero;
  }
  float m = -INFINITY, l = 0.f;

  const int kv_end = p.causal ? min(p.T, q0 + Br) : p.T;
  const int warp_last_row = q0 + (threadIdx.x / 32) * 8 + 7;
  for (int k0 = 0; k0 < kv_end; k0 += Bc) {
    __syncthreads();  // the previous tile is no longer read
    for (int c = threadIdx.x; c < Bc * kRowChunks; c += kThreads) {
      const int j = c / kRowChunks, col = (c % kRowChunks) * 4;
      const bool in = k0 + j < p.T;
      const std::size_t at = (k0 + j) * stride + col;
      ks[c] = in ? load4(kg + at, p.vec) : zero;
      vs[c] = in ? load4(vg + at, p.vec) : zero;  // zeros: 0 * garbage could be NaN
    }
    if (threadIdx.x < Bc) ok[threadIdx.x] = key_visible(p, seq0, k0 + threadIdx.x);
    __syncthreads();
    if (p.causal && k0 > warp_last_row) continue;  // the whole tile is above this warp's diagonal

    float s[Bc];
    float mx = m;
#pragma unroll
    for (int j = 0; j < Bc; ++j) {
      float acc = 0.f;
#pragma unroll
      for (int i = 0; i < kMine; ++i) {
        const float4 kk = ks[j * kRowChunks + t + 4 * i];
        acc = fmaf(q[i].x, kk.x, acc);
        acc = fmaf(q[i].y, kk.y, acc);
        acc = fmaf(q[i].z, kk.z, acc);
        acc = fmaf(q[i].w, kk.w, acc);
      }
      acc += __shfl_xor_sync(kFull, acc, 1);
      acc += __shfl_xor_sync(kFull, acc, 2);
      const bool visible = ok[j] && (!p.causal || k0 + j <= row);
      s[j] = visible ? acc * p.scale_log2 : -INFINITY;
      mx = fmaxf(mx, s[j]);
    }
    const float base = softmax_base(mx);
    const float alpha = exp2f(m - base);  // 0 while nothing was visible (m = -inf)
    m = mx;
    l *= alpha;
#pragma unroll
    for (int i = 0; i < kMine; ++i) {
      o[i].x *= alpha, o[i].y *= alpha, o[i].z *= alpha, o[i].w *= alpha;
    }
#pragma unroll
    for (int j = 0; j < Bc; ++j) {
      const float pj = exp2f(s[j] - base);  // masked: exp2(-inf) = 0
      l += pj;
#pragma unroll
      for (int i = 0; i < kMine; ++i) {
        const float4 vv = vs[j * kRowChunks + t + 4 * i];
        o[i].x = fmaf(pj, vv.x, o[i].x);
        o[i].y = fmaf(pj, vv.y, o[i].y);
        o[i].z = fmaf(pj, vv.z, o[i].z);
        o[i].w = fmaf(pj, vv.w, o[i].w);
      }
    }
  }

  if (row >= p.T) return;
  const float inv = l > 0.f ? 1.f / l : 0.f;  // no visible key: a zero row
  const int C = p.H * D;
  float* og = static_cast<float*>(p.out) + (seq0 + row) * C + h * D;
#pragma unroll
  for (int i = 0; i < kMine; ++i) {
    float* dst = og + 4 * (t + 4 * i);
    dst[0] = o[i].x * inv, dst[1] = o[i].y * inv, dst[2] = o[i].z * inv, dst[3] = o[i].w * inv;
  }
}

// ---------------------------------------------------------------------------------------------
// bf16/f16: tensor cores. Fragment layouts of mma.m16n8k16 (PTX ISA, "Matrix Fragments for
// mma.m16n8k16 with floating point type"), with g = lane / 4 and t = lane % 4:
//   A (16x16, row-major), four 32-bit registers of two elements each:
//     a0: (g, 2t..2t+1)  a1: (g+8, 2t..2t+1)  a2: (g, 2t+8..2t+9)  a3: (g+8, 2t+8..2t+9)
//   B (16x8, "col": element (k, n) read from an n-major array), two registers:
//     b0: (k = 2t..2t+1, n = g)  b1: (k = 2t+8..2t+9, n = g)
//   C/D (16x8 f32): c0, c1: (g, 2t..2t+1)  c2, c3: (g+8, 2t..2t+1)
// The lower-indexed element sits in the low 16 bits, which is also how two consecutive 16-bit
// values in memory read as one 32-bit word (little-endian).

using tc::mma;
using tc::pack2;
using tc::to_bits;

__device__ __forceinline__ std::uint32_t ld32(const std::uint16_t* p) {
  return *reinterpret_cast<const std::uint32_t*>(p);  // p is 4-byte aligned (even index)
}

// Copies rows [first, first + Rows) of one head's D columns of a (T, row_stride) 16-bit matrix
// into shared memory: row-major (row r at dst + r * ld) or transposed (column d at dst + d * ld).
// Rows at or past T are zeros.
template <int D, int Rows, bool kTranspose>
__device__ __forceinline__ void load_tile16(std::uint16_t* dst, int ld, const std::uint16_t* src,
                                            const Params& p, int first) {
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  for (int c = threadIdx.x; c < Rows * kChunks; c += kThreads) {
    const int r = c / kChunks, col = (c % kChunks) * 8;
    union {
      uint4 u;
      std::uint16_t h[8];
    } x;
    x.u = make_uint4(0u, 0u, 0u, 0u);
    if (first + r < p.T) {
      const std::uint16_t* s =
          src + static_cast<std::size_t>(first + r) * static_cast<std::size_t>(p.row_stride) + col;
      if (p.vec) {
        x.u = *reinterpret_cast<const uint4*>(s);
      } else {
#pragma unroll
        for (int i = 0; i < 8; ++i) x.h[i] = s[i];
      }
    }
    if (kTranspose) {
#pragma unroll
      for (int i = 0; i < 8; ++i) dst[(col + i) * ld + r] = x.h[i];
    } else {
      *reinterpret_cast<uint4*>(dst + r * ld + col) = x.u;
    }
  }
}

template <typename T, int D, int Bc>
__global__ void __launch_bounds__(kThreads) attention_mma_kernel(Params p) {
  constexpr int Br = (kThreads / 32) * 16;  // 16 query rows per warp
  // +8 elements (16 bytes) per row: the 8 row groups g of a fragment load land in distinct banks,
  // and rows stay 16-byte aligned for uint4 stores.
  constexpr int LDK = D + 8;                            // Q and K rows
  constexpr int LDV = Bc + 8;                           // V^T rows (one per head dim)
  __shared__ __align__(16) std::uint16_t qs[Br * LDK];  // (Br, D)
  __shared__ __align__(16) std::uint16_t ks[Bc * LDK];  // (Bc, D)
  __shared__ __align__(16) std::uint16_t vt[D * LDV];   // (D, Bc): V transposed
  __shared__ int ok[Bc];

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int q0 = (gridDim.x - 1 - blockIdx.x) * Br, h = blockIdx.y;  // heaviest tiles first
  const std::size_t seq0 = static_cast<std::size_t>(blockIdx.z) * p.T;
  const std::size_t stride = static_cast<std::size_t>(p.row_stride);
  const std::uint16_t* qg = static_cast<const std::uint16_t*>(p.q) + seq0 * stride + h * D;
  const std::uint16_t* kg = static_cast<const std::uint16_t*>(p.k) + seq0 * stride + h * D;
  const std::uint16_t* vg = static_cast<const std::uint16_t*>(p.v) + seq0 * stride + h * D;

  load_tile16<D, Br, false>(qs, LDK, qg, p, q0);  // published by the loop's first barrier

  const int row0 = q0 + warp * 16 + g, row1 = row0 + 8;  // this thread's two query rows
  float o[D / 8][4] = {};  // (16, D) per warp: 8-column tile nd, fragment c0..c3
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};  // l: this thread's partial row sums

  const int kv_end = p.causal ? min(p.T, q0 + Br) : p.T;
  const int warp_last_row = q0 + warp * 16 + 15;
  for (int k0 = 0; k0 < kv_end; k0 += Bc) {
    __syncthreads();  // the previous tile is no longer read
    load_tile16<D, Bc, false>(ks, LDK, kg, p, k0);
    load_tile16<D, Bc, true>(vt, LDV, vg, p, k0);  // zeros past T: 0 * garbage could be NaN
    if (threadIdx.x < Bc) ok[threadIdx.x] = key_visible(p, seq0, k0 + threadIdx.x);
    __syncthreads();
    if (p.causal && k0 > warp_last_row) continue;  // the whole tile is above this warp's diagonal

    // S = Q K^T: (16, Bc) per warp as Bc/8 tiles of 16x8.
    float s[Bc / 8][4] = {};
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      const std::uint16_t* qa = qs + (warp * 16 + g) * LDK + kk * 16 + 2 * t;
      const std::uint32_t a[4] = {ld32(qa), ld32(qa + 8 * LDK), ld32(qa + 8),
                                  ld32(qa + 8 * LDK + 8)};
#pragma unroll
      for (int n = 0; n < Bc / 8; ++n) {
        const std::uint16_t* kb = ks + (n * 8 + g) * LDK + kk * 16 + 2 * t;  // B(k=d, n=key)
        mma<T>(s[n], a, ld32(kb), ld32(kb + 8));
      }
    }

    // Scale and mask; running max over the row (a row lives in the 4 threads of a quad).
    float mx[2] = {m[0], m[1]};
#pragma unroll
    for (int n = 0; n < Bc / 8; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int j = n * 8 + 2 * t + (e & 1);
        const int row = e < 2 ? row0 : row1;
        const bool visible = ok[j] && (!p.causal || k0 + j <= row);
        s[n][e] = visible ? s[n][e] * p.scale_log2 : -INFINITY;
        mx[e / 2] = fmaxf(mx[e / 2], s[n][e]);
      }
    }
    float base[2], alpha[2];
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      mx[i] = fmaxf(mx[i], __shfl_xor_sync(kFull, mx[i], 1));
      mx[i] = fmaxf(mx[i], __shfl_xor_sync(kFull, mx[i], 2));
      base[i] = softmax_base(mx[i]);
      alpha[i] = exp2f(m[i] - base[i]);  // 0 while nothing was visible (m = -inf)
      m[i] = mx[i];
      l[i] *= alpha[i];
    }
#pragma unroll
    for (int n = 0; n < Bc / 8; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        s[n][e] = exp2f(s[n][e] - base[e / 2]);  // masked: exp2(-inf) = 0
        l[e / 2] += s[n][e];
      }
    }
#pragma unroll
    for (int nd = 0; nd < D / 8; ++nd) {
      o[nd][0] *= alpha[0], o[nd][1] *= alpha[0];
      o[nd][2] *= alpha[1], o[nd][3] *= alpha[1];
    }

    // O += P V. P rounded to T: the S tiles 2ks and 2ks+1 are the A fragment of key step ks.
#pragma unroll
    for (int ks_ = 0; ks_ < Bc / 16; ++ks_) {
      const std::uint32_t a[4] = {pack2<T>(s[2 * ks_][0], s[2 * ks_][1]),
                                  pack2<T>(s[2 * ks_][2], s[2 * ks_][3]),
                                  pack2<T>(s[2 * ks_ + 1][0], s[2 * ks_ + 1][1]),
                                  pack2<T>(s[2 * ks_ + 1][2], s[2 * ks_ + 1][3])};
#pragma unroll
      for (int nd = 0; nd < D / 8; ++nd) {
        const std::uint16_t* vb = vt + (nd * 8 + g) * LDV + ks_ * 16 + 2 * t;  // B(k=key, n=d)
        mma<T>(o[nd], a, ld32(vb), ld32(vb + 8));
      }
    }
  }

  // Whole-row sums: add the quad's partial sums (each was rescaled by the same alphas).
  float inv[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    l[i] += __shfl_xor_sync(kFull, l[i], 1);
    l[i] += __shfl_xor_sync(kFull, l[i], 2);
    inv[i] = l[i] > 0.f ? 1.f / l[i] : 0.f;  // no visible key: a zero row
  }
  const std::size_t C = static_cast<std::size_t>(p.H) * D;
  std::uint16_t* og = static_cast<std::uint16_t*>(p.out) + seq0 * C + h * D;
#pragma unroll
  for (int nd = 0; nd < D / 8; ++nd) {
    const int col = nd * 8 + 2 * t;
    if (row0 < p.T) {
      og[row0 * C + col] = to_bits<T>(o[nd][0] * inv[0]);
      og[row0 * C + col + 1] = to_bits<T>(o[nd][1] * inv[0]);
    }
    if (row1 < p.T) {
      og[row1 * C + col] = to_bits<T>(o[nd][2] * inv[1]);
      og[row1 * C + col + 1] = to_bits<T>(o[nd][3] * inv[1]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Host side.

bool aligned16(const void* ptr) {
  return reinterpret_cast<std::uintptr_t>(ptr) % 16 == 0;
}

template <int D>
void launch_f32(Params p, int B, Stream stream) {
  constexpr int Br = kThreads / 4;
  p.vec = p.row_stride % 4 == 0 && aligned16(p.q) && aligned16(p.k) && aligned16(p.v);
  const dim3 grid((p.T + Br - 1) / Br, p.H, B);
  attention_f32_kernel<D><<<grid, kThreads, 0, stream>>>(p);
  CUDA_LAUNCH_CHECK();
}

template <typename T, int D>
void launch_mma(Params p, int B, Stream stream) {
  constexpr int Br = (kThreads / 32) * 16;
  // Static shared memory stays under 48 KB: (Br + Bc) * (D + 8) * 2 + D * (Bc + 8) * 2 bytes.
  constexpr int Bc = D <= 96 ? 64 : 32;
  p.vec = p.row_stride % 8 == 0 && aligned16(p.q) && aligned16(p.k) && aligned16(p.v);
  const dim3 grid((p.T + Br - 1) / Br, p.H, B);
  attention_mma_kernel<T, D, Bc><<<grid, kThreads, 0, stream>>>(p);
  CUDA_LAUNCH_CHECK();
}

template <int D>
void launch(const Params& p, int B, DType dtype, Stream stream) {
  switch (dtype) {
    case DType::f32:
      return launch_f32<D>(p, B, stream);
    case DType::f16:
      return launch_mma<__half, D>(p, B, stream);
    case DType::bf16:
      return launch_mma<__nv_bfloat16, D>(p, B, stream);
    default:
      throw Error(std::string("attention: no CUDA kernel for ") + dtype_name(dtype));
  }
}

}  // namespace

void attention_forward_cuda(const AttentionCudaArgs& a, Stream stream) {
  if (a.dtype != DType::f32 && a.dtype != DType::f16 && a.dtype != DType::bf16)
    throw Error(std::string("attention: no CUDA kernel for ") + dtype_name(a.dtype) +
                " (supported: f32, f16, bf16)");
  CUGPT_CHECK(a.B >= 0 && a.T >= 0 && a.H > 0 && a.D > 0 && a.row_stride >= a.H * a.D,
              "attention: bad sizes");
  if (a.B == 0 || a.T == 0) return;
  CUGPT_CHECK(a.q && a.k && a.v && a.out, "attention: null pointer");
  CUGPT_CHECK(a.H <= 65535 && a.B <= 65535, "attention: B and H must be at most 65535");
  // v2 (attention_fa2.cu) when chosen and it covers the case; v1 below otherwise.
  const AttentionKernel kind =
      a.kernel == AttentionKernel::from_env ? attention_kernel_from_env() : a.kernel;
  if (kind == AttentionKernel::v2 && attention_fa2_supported(a))
    return attention_forward_fa2_cuda(a, stream);
  if (a.lse != nullptr)
    throw Error(
        "attention: the lse output needs the v2 kernel (CUGPT_ATTENTION=v2, bf16/f16, "
        "head dim 32/64/80/128, aligned buffers)");
  // Head dims without a tiled kernel take the exact, slow generic one.
  if (a.D != 32 && a.D != 64 && a.D != 80 && a.D != 96 && a.D != 128)
    return attention_generic_cuda(a, stream);

  Params p;
  p.T = a.T, p.H = a.H, p.row_stride = a.row_stride;
  p.q = a.q, p.k = a.k, p.v = a.v, p.out = a.out;
  p.key_mask = a.key_mask;
  p.causal = a.causal;
  p.scale_log2 = a.scale * kLog2e;
  switch (a.D) {
    case 32:
      return launch<32>(p, a.B, a.dtype, stream);
    case 64:
      return launch<64>(p, a.B, a.dtype, stream);
    case 80:
      return launch<80>(p, a.B, a.dtype, stream);
    case 96:
      return launch<96>(p, a.B, a.dtype, stream);
    default:
      return launch<128>(p, a.B, a.dtype, stream);
  }
}

}  // namespace cugpt::kernels
