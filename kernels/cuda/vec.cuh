// Vectorised access for the memory-bound row and elementwise kernels: kVec elements of T move
// as one 16-byte load or store (LDG.128 / STG.128) when the pointers and row lengths allow, and
// one element at a time (kVec = 1) otherwise; every value is f32 in registers. Also the
// reduction over the threads that share a row (a warp, or the whole block).
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/cuda/convert.cuh"
#include "kernels/cuda/reduce.cuh"

namespace cugpt::kernels {

// Elements of T in 16 bytes: 4 for f32, 8 for bf16 and f16.
template <typename T>
constexpr int kPack = 16 / static_cast<int>(sizeof(T));

// An unsigned integer of each access width, so that the load is a single instruction whatever
// the element type (a struct of eight __half is not guaranteed one).
template <int kBytes>
struct Bits;
template <>
struct Bits<2> {
  using type = unsigned short;
};
template <>
struct Bits<4> {
  using type = unsigned int;
};
template <>
struct Bits<16> {
  using type = uint4;
};

// src and dst are aligned to sizeof(T) * kVec.
template <int kVec, typename T>
__device__ __forceinline__ void load_vec(float (&dst)[kVec], const T* src) {
  using B = typename Bits<sizeof(T) * kVec>::type;
  const B bits = *reinterpret_cast<const B*>(src);
  T v[kVec];
  memcpy(v, &bits, sizeof(bits));
#pragma unroll
  for (int k = 0; k < kVec; ++k) dst[k] = to_f32(v[k]);
}

template <int kVec, typename T>
__device__ __forceinline__ void store_vec(T* dst, const float (&src)[kVec]) {
  using B = typename Bits<sizeof(T) * kVec>::type;
  T v[kVec];
#pragma unroll
  for (int k = 0; k < kVec; ++k) v[k] = from_f32<T>(src[k]);
  B bits;
  memcpy(&bits, v, sizeof(bits));
  *reinterpret_cast<B*>(dst) = bits;
}

// x as T would store it: the value a later kernel reads back.
template <typename T>
__device__ __forceinline__ float round_as(float x) {
  return to_f32(from_f32<T>(x));
}

// Block size for kRowThreads threads a row: a warp-per-row kernel puts 8 rows in a block, the
// others give the whole block to one row.
template <int kRowThreads>
constexpr int kRowBlockThreads = kRowThreads == 32 ? 256 : kRowThreads;

// Sum or max over the kRowThreads consecutive threads of one row: a warp (shuffles only), or
// the whole block when kRowThreads is the block size (every thread of the block must call it).
template <int kRowThreads, bool kMax>
__device__ __forceinline__ float row_reduce(float v) {
  if constexpr (kRowThreads == 32) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = combine<kMax>(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
  } else {
    return block_reduce<kRowThreads, kMax>(v);
  }
}

// The value of the row's first thread, given to every thread of the row (grouped as in
// row_reduce). At most once per kernel: the block-wide slot is not guarded for reuse.
template <int kRowThreads>
__device__ __forceinline__ float row_first(float v) {
  if constexpr (kRowThreads == 32) {
    return __shfl_sync(0xffffffffu, v, 0);
  } else {
    __shared__ float first;
    if (threadIdx.x == 0) first = v;
    __syncthreads();
    return first;
  }
}

inline bool aligned16(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
}

// Calls f(std::integral_constant<int, kVec>{}): 16-byte packs when `vectorise`, else scalars.
template <typename T, typename F>
void dispatch_vec(bool vectorise, F&& f) {
  if (vectorise) return f(std::integral_constant<int, kPack<T>>{});
  return f(std::integral_constant<int, 1>{});
}

}  // namespace cugpt::kernels
