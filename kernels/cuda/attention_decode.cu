// Decode attention: one block of 8 warps per (query, head, sequence). A decode step launches
// only H blocks per sequence, so each block must keep many loads of its head's cache in flight
// on its own. Two variants; both keep the row of scores in shared memory (4 bytes per cached
// position), do the softmax with block reductions and accumulate in f32:
//  - vectorised (D a multiple of 16 bytes' worth of elements, 16-byte aligned cache rows: every
//    model config): a thread per key for the scores, reading its key row 16 bytes at a time
//    (all loads of a row independent); for the output, D / 8 threads share a value row (one
//    16-byte piece each) and the block reads 256 / (D / 8) rows at once, the groups' partial
//    rows added through shared memory;
//  - generic (any D up to kMaxD): warp w takes keys w, w + 8, ... with the lanes along the head
//    dims, a shuffle reduction per score and the same split for the output.
#include <string>

#include "kernels/attention_decode.h"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/convert.cuh"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/vec.cuh"

namespace cugpt::kernels {

namespace {

constexpr int kWarps = 8;
constexpr int kThreads = 32 * kWarps;
constexpr int kMaxKeys = 12288;  // 48 KB of f32 scores
constexpr int kMaxD = 256;       // 8 accumulators per lane
constexpr int kPerLane = kMaxD / 32;
// The most either variant asks for: q, the partial rows (at most kThreads * 8 floats) and the
// scores.
constexpr std::size_t kSmemBytes = (kMaxD + kThreads * 8 + kMaxKeys) * sizeof(float);

// The cached length: the launch's, or the one the device holds, kept within the cache.
__device__ __forceinline__ int past_of(const DecodeCudaArgs& a) {
  if (!a.past_device) return a.past;
  return min(max(*a.past_device, 0), a.t_max - a.Tq);
}

// With k_new: this block's head slice of the new token's key and value into the caches at row
// `past` (Tq = 1), visible to the whole block after the barrier.
template <typename T>
__device__ __forceinline__ void write_new_kv(const DecodeCudaArgs& a, int past, int h, int b) {
  if (!a.k_new) return;
  const size_t row = (static_cast<size_t>(b) * a.t_max + past) * (a.H * a.D) + h * a.D;
  T* kc = const_cast<T*>(static_cast<const T*>(a.k_cache)) + row;
  T* vc = const_cast<T*>(static_cast<const T*>(a.v_cache)) + row;
  const T* kn = static_cast<const T*>(a.k_new) + static_cast<size_t>(b) * a.k_new_stride + h * a.D;
  const T* vn = static_cast<const T*>(a.v_new) + static_cast<size_t>(b) * a.v_new_stride + h * a.D;
  for (int d = threadIdx.x; d < a.D; d += kThreads) {
    kc[d] = kn[d];
    vc[d] = vn[d];
  }
  __syncthreads();
}

template <typename T>
__global__ void __launch_bounds__(kThreads) decode_kernel(DecodeCudaArgs a) {
  extern __shared__ float smem[];
  float* partial = smem;                // [kWarps][D]
  float* scores = smem + kWarps * a.D;  // [keys]
  const int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int keys = past_of(a) + i + 1;
  write_new_kv<T>(a, keys - 1, h, b);
  const int C = a.H * a.D;
  const T* q =
      static_cast<const T*>(a.q) + (static_cast<size_t>(b) * a.Tq + i) * a.q_stride + h * a.D;
  const T* k = static_cast<const T*>(a.k_cache) + static_cast<size_t>(b) * a.t_max * C + h * a.D;
  const T* v = static_cast<const T*>(a.v_cache) + static_cast<size_t>(b) * a.t_max * C + h * a.D;

  float qr[kPerLane];
#pragma unroll
  for (int c = 0; c < kPerLane; ++c) {
    const int d = lane + 32 * c;
    qr[c] = d < a.D ? to_f32(q[d]) * a.scale : 0.f;
  }
  float mx = -INFINITY;
  for (int j = warp; j < keys; j += kWarps) {
    const T* kj = k + static_cast<size_t>(j) * C;
    float s = 0.f;
#pragma unroll
    for (int c = 0; c < kPerLane; ++c) {
      const int d = lane + 32 * c;
      if (d < a.D) s += qr[c] * to_f32(kj[d]);
    }
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (lane == 0) scores[j] = s;
    mx = fmaxf(mx, s);
  }
  mx = block_max<kThreads>(mx);  // its __syncthreads also publishes the scores
  float sum = 0.f;
  for (int j = threadIdx.x; j < keys; j += kThreads) {
    const float e = __expf(scores[j] - mx);
    scores[j] = e;
    sum += e;
  }
  sum = block_sum<kThreads>(sum);  // and publishes the exponentials
  float acc[kPerLane] = {};
  for (int j = warp; j < keys; j += kWarps) {
    const float p = scores[j];
    const T* vj = v + static_cast<size_t>(j) * C;
#pragma unroll
    for (int c = 0; c < kPerLane; ++c) {
      const int d = lane + 32 * c;
      if (d < a.D) acc[c] += p * to_f32(vj[d]);
    }
  }
#pragma unroll
  for (int c = 0; c < kPerLane; ++c) {
    const int d = lane + 32 * c;
    if (d < a.D) partial[warp * a.D + d] = acc[c];
  }
  __syncthreads();
  const float inv = 1.f / sum;
  T* o = static_cast<T*>(a.out) + (static_cast<size_t>(b) * a.Tq + i) * C + h * a.D;
  for (int d = threadIdx.x; d < a.D; d += kThreads) {
    float total = 0.f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) total += partial[w * a.D + d];
    o[d] = from_f32<T>(total * inv);
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads) decode_vec_kernel(DecodeCudaArgs a) {
  constexpr int P = kPack<T>;
  extern __shared__ float smem[];
  const int chunks = a.D / P;            // 16-byte pieces of a row
  const int groups = kThreads / chunks;  // value rows read at once
  float* qs = smem;                      // [D], pre-scaled
  float* partial = qs + a.D;             // [groups][D]
  float* scores = partial + groups * a.D;
  const int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int keys = past_of(a) + i + 1;
  write_new_kv<T>(a, keys - 1, h, b);
  const int C = a.H * a.D;
  const T* q =
      static_cast<const T*>(a.q) + (static_cast<size_t>(b) * a.Tq + i) * a.q_stride + h * a.D;
  const T* k = static_cast<const T*>(a.k_cache) + static_cast<size_t>(b) * a.t_max * C + h * a.D;
  const T* v = static_cast<const T*>(a.v_cache) + static_cast<size_t>(b) * a.t_max * C + h * a.D;
  for (int d = threadIdx.x; d < a.D; d += kThreads) qs[d] = to_f32(q[d]) * a.scale;
  __syncthreads();

  float mx = -INFINITY;
  for (int j = threadIdx.x; j < keys; j += kThreads) {
    const T* kj = k + static_cast<size_t>(j) * C;
    float s = 0.f;
#pragma unroll 8
    for (int c = 0; c < chunks; ++c) {
      float x[P];
      load_vec<P>(x, kj + c * P);
#pragma unroll
      for (int e = 0; e < P; ++e) s += qs[c * P + e] * x[e];
    }
    scores[j] = s;
    mx = fmaxf(mx, s);
  }
  mx = block_max<kThreads>(mx);
  float sum = 0.f;
  for (int j = threadIdx.x; j < keys; j += kThreads) {
    const float e = __expf(scores[j] - mx);
    scores[j] = e;
    sum += e;
  }
  sum = block_sum<kThreads>(sum);  // its __syncthreads also publishes the exponentials

  const int c = threadIdx.x % chunks, g = threadIdx.x / chunks;
  if (g < groups) {
    float acc[P] = {};
#pragma unroll 4
    for (int j = g; j < keys; j += groups) {
      const float p = scores[j];
      float x[P];
      load_vec<P>(x, v + static_cast<size_t>(j) * C + c * P);
#pragma unroll
      for (int e = 0; e < P; ++e) acc[e] += p * x[e];
    }
#pragma unroll
    for (int e = 0; e < P; ++e) partial[g * a.D + c * P + e] = acc[e];
  }
  __syncthreads();
  const float inv = 1.f / sum;
  T* o = static_cast<T*>(a.out) + (static_cast<size_t>(b) * a.Tq + i) * C + h * a.D;
  for (int d = threadIdx.x; d < a.D; d += kThreads) {
    float total = 0.f;
    for (int w = 0; w < groups; ++w) total += partial[w * a.D + d];
    o[d] = from_f32<T>(total * inv);
  }
}

// Every cache row starts on a 16-byte boundary and a head is whole 16-byte pieces.
template <typename T>
bool vectorisable(const DecodeCudaArgs& a) {
  constexpr int P = kPack<T>;
  const auto aligned = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
  return a.D % P == 0 && a.D / P <= kThreads && (a.H * a.D) % P == 0 && aligned(a.k_cache) &&
         aligned(a.v_cache);
}

template <typename T>
void launch(const DecodeCudaArgs& a, Stream stream) {
  // More than the default 48 KB of dynamic shared memory needs an opt-in, once per kernel.
  static const bool opted_in = [] {
    for (const void* f : {reinterpret_cast<const void*>(decode_kernel<T>),
                          reinterpret_cast<const void*>(decode_vec_kernel<T>)})
      CUDA_CHECK(cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(kSmemBytes)));
    return true;
  }();
  (void)opted_in;
  const std::size_t keys =
      a.past_device ? static_cast<std::size_t>(a.t_max) : static_cast<std::size_t>(a.past) + a.Tq;
  const dim3 grid(a.Tq, a.H, a.B);
  if (vectorisable<T>(a)) {
    const std::size_t groups = kThreads / (a.D / kPack<T>);
    const std::size_t smem = (a.D + groups * a.D + keys) * sizeof(float);
    decode_vec_kernel<T><<<grid, kThreads, smem, stream>>>(a);
  } else {
    const std::size_t smem = (kWarps * a.D + keys) * sizeof(float);
    decode_kernel<T><<<grid, kThreads, smem, stream>>>(a);
  }
  CUDA_LAUNCH_CHECK();
}

}  // namespace

void attention_decode_cuda(const DecodeCudaArgs& a, Stream stream) {
  if (a.B == 0 || a.Tq == 0) return;
  const int longest = a.past_device ? a.t_max : a.past + a.Tq;
  if (longest > kMaxKeys)
    throw Error("attention_decode: " + std::to_string(longest) + " positions exceed the " +
                std::to_string(kMaxKeys) + " the decode kernel holds in shared memory");
  if (a.D < 1 || a.D > kMaxD)
    throw Error("attention_decode: head dim " + std::to_string(a.D) + " (the kernel holds 1 to " +
                std::to_string(kMaxD) + ")");
  if (a.past + a.Tq > a.t_max || a.q_stride < a.H * a.D) throw Error("attention_decode: bad sizes");
  if (a.k_new &&
      (a.Tq != 1 || !a.v_new || a.k_new_stride < a.H * a.D || a.v_new_stride < a.H * a.D))
    throw Error("attention_decode: a new key and value are written for one query per row");
  dispatch_dtype("attention_decode", a.dtype,
                 [&](auto zero) { launch<decltype(zero)>(a, stream); });
}

}  // namespace cugpt::kernels
