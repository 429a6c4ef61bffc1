#include "kernels/attention_decode.h"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/convert.cuh"
#include "kernels/cuda/reduce.cuh"

namespace cugpt::kernels {

namespace {

constexpr int kThreads = 128;
constexpr int kMaxKeys = 12288;  // 48 KB of f32 scores: the default dynamic smem limit

// Decode is bound by reading the cache: each block streams its head's keys once for the
// scores and its values once for the output; the softmax row stays in shared memory.
template <typename T>
__global__ void decode_kernel(DecodeCudaArgs a) {
  extern __shared__ float scores[];
  const int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int keys = a.past + i + 1;
  const int C = a.H * a.D;
  const T* q =
      static_cast<const T*>(a.q) + (static_cast<size_t>(b) * a.Tq + i) * a.q_stride + h * a.D;
  const T* k = static_cast<const T*>(a.k_cache) + static_cast<size_t>(b) * a.t_max * C + h * a.D;
  const T* v = static_cast<const T*>(a.v_cache) + static_cast<size_t>(b) * a.t_max * C + h * a.D;

  float mx = -INFINITY;
  for (int j = threadIdx.x; j < keys; j += kThreads) {
    const T* kj = k + static_cast<size_t>(j) * C;
    float s = 0.f;
    for (int d = 0; d < a.D; ++d) s += to_f32(q[d]) * to_f32(kj[d]);
    s *= a.scale;
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
  sum = block_sum<kThreads>(sum);  // its __syncthreads also publishes scores
  const float inv = 1.f / sum;
  T* o = static_cast<T*>(a.out) + (static_cast<size_t>(b) * a.Tq + i) * C + h * a.D;
  for (int d = threadIdx.x; d < a.D; d += kThreads) {
    float acc = 0.f;
    for (int j = 0; j < keys; ++j) acc += scores[j] * to_f32(v[static_cast<size_t>(j) * C + d]);
    o[d] = from_f32<T>(acc * inv);
  }
}

template <typename T>
void launch(const DecodeCudaArgs& a, Stream stream) {
  const int keys = a.past + a.Tq;
  const dim3 grid(a.Tq, a.H, a.B);
  decode_kernel<T><<<grid, kThreads, keys * sizeof(float), stream>>>(a);
  CUDA_LAUNCH_CHECK();
}

}  // namespace

void attention_decode_cuda(const DecodeCudaArgs& a, Stream stream) {
  if (a.B == 0 || a.Tq == 0) return;
  if (a.past + a.Tq > kMaxKeys)
    throw Error("attention_decode: " + std::to_string(a.past + a.Tq) + " positions exceed the " +
                std::to_string(kMaxKeys) + " the decode kernel holds in shared memory");
  if (a.past + a.Tq > a.t_max || a.q_stride < a.H * a.D) throw Error("attention_decode: bad sizes");
  dispatch_dtype("attention_decode", a.dtype,
                 [&](auto zero) { launch<decltype(zero)>(a, stream); });
}

}  // namespace cugpt::kernels
