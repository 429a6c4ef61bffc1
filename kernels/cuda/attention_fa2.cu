// Attention forward v2, FlashAttention-2 class (bf16/f16, head dims 32, 64, 80, 128): one block
// of 8 warps per 128 query rows of one (batch, head), 16 rows per warp, key tiles of 64 streamed
// through a two-stage cp.async pipeline (tile j + 1 loads while tile j is computed). Q is read
// once into registers (ldmatrix), so its shared memory becomes the second K/V stage. S = Q K^T
// and O += P V on mma.sync m16n8k16 with f32 accumulators; K fragments by ldmatrix, V fragments
// by ldmatrix.trans (no transposed stores); P stays in registers. Scores are masked only in
// tiles that cross the causal diagonal, the end of the sequence or a padded key; the output is
// staged through shared memory for 16-byte stores, and the per-row log-sum-exp can be saved.
// Selection against v1 (CUGPT_ATTENTION) and the design: docs/attention-kernel.md.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "kernels/attention.h"
#include "kernels/cuda/attention_fa2.cuh"
#include "kernels/cuda/check.cuh"

namespace cugpt::kernels {

namespace {

using namespace fa2;

constexpr int kWarps = 8, kThreads = 32 * kWarps;
constexpr int kBr = 16 * kWarps;  // 128 query rows a block
constexpr int kBc = 64;           // keys a tile; kBr = 2 kBc: the Q buffer is one K/V stage

struct Params {
  int T = 0, H = 0, row_stride = 0;
  const std::uint16_t* q = nullptr;
  const std::uint16_t* k = nullptr;
  const std::uint16_t* v = nullptr;
  std::uint16_t* out = nullptr;  // (B, T, H*D)
  float* lse = nullptr;          // (B, H, T) natural log, or nullptr
  const std::int32_t* key_mask = nullptr;
  bool causal = false;
  float scale_log2 = 0;
};

template <typename T, int D>
__global__ void __launch_bounds__(kThreads) fa2_forward_kernel(Params p) {
  constexpr int LD = D + 8;  // +16 bytes a row: the 8 rows of an ldmatrix hit distinct banks
  extern __shared__ __align__(16) std::uint16_t smem[];
  std::uint16_t* region_a = smem;             // Q (kBr, D), then stage 1: K, V (kBc, D) each
  std::uint16_t* region_b = smem + kBr * LD;  // stage 0: K, V

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int q0 = (gridDim.x - 1 - blockIdx.x) * kBr, h = blockIdx.y;  // heaviest tiles first
  const std::size_t seq0 = static_cast<std::size_t>(blockIdx.z) * p.T;
  const std::size_t stride = static_cast<std::size_t>(p.row_stride);
  const std::uint16_t* qg = p.q + seq0 * stride + h * D;
  const std::uint16_t* kg = p.k + seq0 * stride + h * D;
  const std::uint16_t* vg = p.v + seq0 * stride + h * D;
  const int kv_end = p.causal ? min(p.T, q0 + kBr) : p.T;
  const int tiles = (kv_end + kBc - 1) / kBc;

  load_rows_async<D, LD, kBr, kThreads>(region_a, qg, stride, q0, p.T);
  cp_async_commit();
  load_rows_async<D, LD, kBc, kThreads>(region_b, kg, stride, 0, p.T);
  load_rows_async<D, LD, kBc, kThreads>(region_b + kBc * LD, vg, stride, 0, p.T);
  cp_async_commit();
  cp_async_wait<1>();  // Q has landed (tile 0 may still be in flight)
  __syncthreads();
  std::uint32_t qf[D / 16][4];  // this warp's 16 query rows as A fragments, for every tile
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) load_a<LD>(qf[kk], region_a + warp * 16 * LD + kk * 16, lane);
  __syncthreads();  // region_a is free: it becomes stage 1

  const int wr0 = q0 + warp * 16;             // this warp's first query row
  const int row0 = wr0 + g, row1 = row0 + 8;  // this thread's two rows
  float o[D / 8][4] = {};
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};  // l: this thread's partial sums

  for (int j = 0; j < tiles; ++j) {
    if (j + 1 < tiles) {
      std::uint16_t* next = (j + 1) & 1 ? region_a : region_b;
      load_rows_async<D, LD, kBc, kThreads>(next, kg, stride, (j + 1) * kBc, p.T);
      load_rows_async<D, LD, kBc, kThreads>(next + kBc * LD, vg, stride, (j + 1) * kBc, p.T);
    }
    cp_async_commit();  // possibly empty: keeps "all but the newest group" = tile j
    cp_async_wait<1>();
    __syncthreads();
    const int k0 = j * kBc;
    const std::uint16_t* ks = j & 1 ? region_a : region_b;
    const std::uint16_t* vs = ks + kBc * LD;
    // Visible keys of the tile as two 32-bit masks, the same in every lane (no shared memory).
    std::uint32_t vis[kBc / 32];
#pragma unroll
    for (int w = 0; w < kBc / 32; ++w) {
      const int key = k0 + 32 * w + lane;
      vis[w] =
          __ballot_sync(kFull, key < p.T && (p.key_mask == nullptr || p.key_mask[seq0 + key] != 0));
    }
    const bool above = p.causal && k0 > wr0 + 15;  // the whole tile is above this warp's diagonal
    if (!above) {
      bool all_visible = true;
#pragma unroll
      for (int w = 0; w < kBc / 32; ++w) all_visible = all_visible && vis[w] == kFull;
      const bool need_mask = !all_visible || (p.causal && k0 + kBc - 1 > wr0);

      float s[kBc / 8][4] = {};  // S = Q K^T: (16, kBc) per warp
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk)
#pragma unroll
        for (int np = 0; np < kBc / 16; ++np) {
          std::uint32_t b[4];
          load_b_rows<LD>(b, ks + np * 16 * LD + kk * 16, lane);
          mma<T>(s[2 * np], qf[kk], b[0], b[1]);
          mma<T>(s[2 * np + 1], qf[kk], b[2], b[3]);
        }

      float mx[2] = {m[0], m[1]};
#pragma unroll
      for (int n = 0; n < kBc / 8; ++n)
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
          mx[e / 2] = fmaxf(mx[e / 2], x);
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
      for (int n = 0; n < kBc / 8; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          s[n][e] = exp2f(s[n][e] - base[e / 2]);  // masked: exp2(-inf) = 0
          l[e / 2] += s[n][e];
        }
#pragma unroll
      for (int nd = 0; nd < D / 8; ++nd) {
        o[nd][0] *= alpha[0], o[nd][1] *= alpha[0];
        o[nd][2] *= alpha[1], o[nd][3] *= alpha[1];
      }
      // O += P V: the S tiles 2ks and 2ks + 1 are the A fragment of key step ks.
#pragma unroll
      for (int ks_ = 0; ks_ < kBc / 16; ++ks_) {
        const std::uint32_t a[4] = {pack2<T>(s[2 * ks_][0], s[2 * ks_][1]),
                                    pack2<T>(s[2 * ks_][2], s[2 * ks_][3]),
                                    pack2<T>(s[2 * ks_ + 1][0], s[2 * ks_ + 1][1]),
                                    pack2<T>(s[2 * ks_ + 1][2], s[2 * ks_ + 1][3])};
#pragma unroll
        for (int ndp = 0; ndp < D / 16; ++ndp) {
          std::uint32_t b[4];
          load_b_trans<LD>(b, vs + ks_ * 16 * LD + ndp * 16, lane);
          mma<T>(o[2 * ndp], a, b[0], b[1]);
          mma<T>(o[2 * ndp + 1], a, b[2], b[3]);
        }
      }
    }
    __syncthreads();  // stage j & 1 is no longer read: the next iteration may refill it
  }

  float inv[2], lse[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    l[i] += __shfl_xor_sync(kFull, l[i], 1);
    l[i] += __shfl_xor_sync(kFull, l[i], 2);
    inv[i] = l[i] > 0.f ? 1.f / l[i] : 0.f;  // no visible key: a zero row
    lse[i] = l[i] > 0.f ? (m[i] + log2f(l[i])) * kLn2 : -INFINITY;
  }
  if (p.lse != nullptr && t == 0) {
    float* lg = p.lse + (static_cast<std::size_t>(blockIdx.z) * p.H + h) * p.T;
    if (row0 < p.T) lg[row0] = lse[0];
    if (row1 < p.T) lg[row1] = lse[1];
  }
  const std::size_t C = static_cast<std::size_t>(p.H) * D;
  // The loop's last barrier passed: every warp may reuse its own 16 rows of region_a.
  store_tile16<T, D, LD>(region_a + warp * 16 * LD, o, inv, p.out + seq0 * C + h * D, C, wr0, p.T,
                         lane);
}

bool aligned16(const void* ptr) {
  return reinterpret_cast<std::uintptr_t>(ptr) % 16 == 0;
}

template <typename T, int D>
void launch(const Params& p, int B, Stream stream) {
  constexpr int bytes = 2 * kBr * (D + 8) * 2;  // region_a + region_b, 16-bit elements
  static_assert(bytes <= 99 * 1024, "over sm_86's 99 KB of shared memory per block");
  static const cudaError_t set = cudaFuncSetAttribute(
      fa2_forward_kernel<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  CUDA_CHECK(set);
  const dim3 grid((p.T + kBr - 1) / kBr, p.H, B);
  fa2_forward_kernel<T, D><<<grid, kThreads, bytes, stream>>>(p);
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

}  // namespace

AttentionKernel parse_attention_kernel(const char* value) {
  if (value == nullptr || *value == '\0') return AttentionKernel::v1;
  const std::string s(value);
  if (s == "v1") return AttentionKernel::v1;
  if (s == "v2") return AttentionKernel::v2;
  throw Error("CUGPT_ATTENTION must be v1 or v2, not '" + s + "'");
}

AttentionKernel attention_kernel_from_env() {
  static const AttentionKernel choice = parse_attention_kernel(std::getenv("CUGPT_ATTENTION"));
  return choice;
}

bool attention_fa2_supported(const AttentionCudaArgs& a) {
  const bool dim = a.D == 32 || a.D == 64 || a.D == 80 || a.D == 128;
  const bool dtype = a.dtype == DType::bf16 || a.dtype == DType::f16;
  return dim && dtype && a.row_stride % 8 == 0 && aligned16(a.q) && aligned16(a.k) &&
         aligned16(a.v) && aligned16(a.out);
}

void attention_forward_fa2_cuda(const AttentionCudaArgs& a, Stream stream) {
  CUGPT_CHECK(a.B >= 0 && a.T >= 0 && a.H > 0 && a.D > 0 && a.row_stride >= a.H * a.D,
              "attention: bad sizes");
  if (a.B == 0 || a.T == 0) return;
  CUGPT_CHECK(a.q && a.k && a.v && a.out, "attention: null pointer");
  CUGPT_CHECK(a.H <= 65535 && a.B <= 65535, "attention: B and H must be at most 65535");
  if (!attention_fa2_supported(a))
    throw Error(
        "attention v2: needs bf16/f16, head dim 32, 64, 80 or 128, 16-byte aligned q, k, "
        "v and out and a row stride a multiple of 8 (got " +
        std::string(dtype_name(a.dtype)) + ", D = " + std::to_string(a.D) + ", row stride " +
        std::to_string(a.row_stride) + ")");
  Params p;
  p.T = a.T, p.H = a.H, p.row_stride = a.row_stride;
  p.q = static_cast<const std::uint16_t*>(a.q);
  p.k = static_cast<const std::uint16_t*>(a.k);
  p.v = static_cast<const std::uint16_t*>(a.v);
  p.out = static_cast<std::uint16_t*>(a.out);
  p.lse = a.lse;
  p.key_mask = a.key_mask;
  p.causal = a.causal;
  p.scale_log2 = a.scale * kLog2e;
  if (a.dtype == DType::bf16) return launch_dim<__nv_bfloat16>(p, a.B, a.D, stream);
  return launch_dim<__half>(p, a.B, a.D, stream);
}

}  // namespace cugpt::kernels
