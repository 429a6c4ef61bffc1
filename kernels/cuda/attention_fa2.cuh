// Fragment helpers shared by the v2 (FlashAttention-2 class) attention kernels,
// attention_fa2.cu (forward) and attention_backward_fa2.cu: mma.sync m16n8k16 with f32
// accumulators (kernels/cuda/mma.cuh, shared with v1), ldmatrix (plain and .trans) fragment
// loads, cp.async 16-byte copies with zero fill. The same code for sm_86 and sm_90. Layouts:
// docs/attention-kernel.md ("v2").
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/cuda/mma.cuh"

namespace cugpt::kernels::fa2 {

constexpr unsigned kFull = 0xffffffffu;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

__device__ __forceinline__ std::uint32_t smem_u32(const void* p) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared without passing through registers; valid = false writes zeros
// (src-size 0: nothing is read, but src must still be a mapped address).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst)), "l"(src),
               "r"(valid ? 16 : 0));
}
// One 4-byte f32 the same way (cp.async.ca: the only form for sizes under 16).
__device__ __forceinline__ void cp_async4(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem_u32(dst)), "l"(src),
               "r"(valid ? 4 : 0));
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::);
}
// Waits until at most N committed groups of this thread are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// Four 8x8 16-bit matrices; lane l gives the address of row l % 8 of matrix l / 8 and receives
// in r[i] the elements (row l / 4, columns 2(l % 4), +1) of matrix i (.trans: of its transpose).
__device__ __forceinline__ void ldsm_x4(std::uint32_t (&r)[4], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(row)));
}
__device__ __forceinline__ void ldsm_x4_trans(std::uint32_t (&r)[4], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(row)));
}

using tc::mma;
using tc::pack2;
using tc::to_bits;

// Rows [first, first + Rows) of one head's D columns of a (T, stride) 16-bit matrix into shared
// memory (row r at dst + r * LD), 16 bytes per cp.async; rows at or past T become zeros (their
// weight is 0, and 0 * stale memory could be NaN). src is 16-byte aligned, stride % 8 == 0.
template <int D, int LD, int Rows, int Threads>
__device__ __forceinline__ void load_rows_async(std::uint16_t* dst, const std::uint16_t* src,
                                                std::size_t stride, int first, int T) {
  constexpr int kChunks = D / 8;
#pragma unroll
  for (int c = threadIdx.x; c < Rows * kChunks; c += Threads) {
    const int r = c / kChunks, col = (c % kChunks) * 8;
    const bool in = first + r < T;
    const std::uint16_t* s = in ? src + static_cast<std::size_t>(first + r) * stride + col : src;
    cp_async16(dst + r * LD + col, s, in);
  }
}

// A fragment (16 rows x 16 columns at `tile`, row pitch LD) for mma: lane l reads row l % 16,
// columns 8 (l / 16) ..: a0 (g, 2t), a1 (g + 8, 2t), a2 (g, 2t + 8), a3 (g + 8, 2t + 8).
template <int LD>
__device__ __forceinline__ void load_a(std::uint32_t (&a)[4], const std::uint16_t* tile, int lane) {
  ldsm_x4(a, tile + (lane % 16) * LD + (lane / 16) * 8);
}

// B fragments of two adjacent 8-column n-tiles when B(k, n) = M[n][k] (M row-major, n = row):
// rows n0 .. n0 + 15, k columns k0 .. k0 + 15. b[0], b[1]: n-tile 0; b[2], b[3]: n-tile 1.
template <int LD>
__device__ __forceinline__ void load_b_rows(std::uint32_t (&b)[4], const std::uint16_t* tile,
                                            int lane) {
  const int i = lane / 8;
  ldsm_x4(b, tile + ((lane % 8) + 8 * (i >> 1)) * LD + 8 * (i & 1));
}

// B fragments of two adjacent 8-column n-tiles when B(k, n) = M[k][n] (M row-major, k = row:
// V in P.V), by ldmatrix.trans: rows k0 .. k0 + 15, columns n0 .. n0 + 15.
template <int LD>
__device__ __forceinline__ void load_b_trans(std::uint32_t (&b)[4], const std::uint16_t* tile,
                                             int lane) {
  const int i = lane / 8;
  ldsm_x4_trans(b, tile + ((lane % 8) + 8 * (i & 1)) * LD + 8 * (i >> 1));
}

// What a row subtracts before exp2 given its running max: 0 while nothing was visible (-inf),
// so that no (-inf) - (-inf) is formed.
__device__ __forceinline__ float softmax_base(float mx) {
  return mx == -INFINITY ? 0.f : mx;
}

// Writes a warp's 16 x D f32 accumulator tile (fragment layout, acc[nd] = 8-column tile nd)
// times mul[row half] into shared memory as 16-bit, then copies it to global memory 16 bytes at
// a time: rows [row0, row0 + 16) of dst (pitch ld elements), those at or past `rows` skipped. The
// shared rows must be this warp's own (only __syncwarp separates the write and the read).
template <typename T, int D, int LDS>
__device__ __forceinline__ void store_tile16(std::uint16_t* sm, const float (&acc)[D / 8][4],
                                             const float (&mul)[2], std::uint16_t* dst,
                                             std::size_t ld, int row0, int rows, int lane) {
  const int g = lane / 4, t = lane % 4;
#pragma unroll
  for (int nd = 0; nd < D / 8; ++nd) {
    const int col = nd * 8 + 2 * t;
    *reinterpret_cast<std::uint32_t*>(sm + g * LDS + col) =
        pack2<T>(acc[nd][0] * mul[0], acc[nd][1] * mul[0]);
    *reinterpret_cast<std::uint32_t*>(sm + (g + 8) * LDS + col) =
        pack2<T>(acc[nd][2] * mul[1], acc[nd][3] * mul[1]);
  }
  __syncwarp();
  constexpr int kChunks = D / 8;
#pragma unroll
  for (int c = lane; c < 16 * kChunks; c += 32) {
    const int r = c / kChunks, col = (c % kChunks) * 8;
    if (row0 + r < rows)
      *reinterpret_cast<uint4*>(dst + static_cast<std::size_t>(row0 + r) * ld + col) =
          *reinterpret_cast<const uint4*>(sm + r * LDS + col);
  }
}

}  // namespace cugpt::kernels::fa2
