// Attention for any head dim, one block of 128 threads per (query row, head, batch): the
// threads share the row's scores in shared memory (no T x T matrix in device memory), reduce the
// max and the sum across the block, then each thread owns output columns d, d + 128, ... and
// sums p_j v_j[d] over the visible keys. Scores and sums in f32. It reads each key row once per
// query, so it is O(T^2 D) loads: meant for small models, not for speed.
#include <string>

#include "kernels/cuda/attention_generic.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/convert.cuh"
#include "kernels/cuda/reduce.cuh"

namespace cugpt::kernels {

namespace {

constexpr int kThreads = 128;

template <typename T>
__global__ void generic_kernel(AttentionCudaArgs a) {
  extern __shared__ float scores[];
  const int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const std::size_t row0 = static_cast<std::size_t>(b) * a.T;
  const T* q = static_cast<const T*>(a.q) + (row0 + i) * a.row_stride + h * a.D;
  const T* k = static_cast<const T*>(a.k) + row0 * a.row_stride + h * a.D;
  const T* v = static_cast<const T*>(a.v) + row0 * a.row_stride + h * a.D;
  const int keys = a.causal ? i + 1 : a.T;

  float mx = -INFINITY;
  for (int j = threadIdx.x; j < keys; j += kThreads) {
    float s = -INFINITY;
    if (a.key_mask == nullptr || a.key_mask[row0 + j] != 0) {
      const T* kj = k + static_cast<std::size_t>(j) * a.row_stride;
      s = 0.f;
      for (int d = 0; d < a.D; ++d) s += to_f32(q[d]) * to_f32(kj[d]);
      s *= a.scale;
    }
    scores[j] = s;
    mx = fmaxf(mx, s);
  }
  mx = block_max<kThreads>(mx);
  float sum = 0.f;
  for (int j = threadIdx.x; j < keys; j += kThreads) {
    const float e = mx == -INFINITY ? 0.f : __expf(scores[j] - mx);
    scores[j] = e;
    sum += e;
  }
  sum = block_sum<kThreads>(sum);  // its __syncthreads also publishes scores
  // A row with no visible key gives zeros, as on the cpu.
  const float inv = sum > 0.f ? 1.f / sum : 0.f;
  T* o = static_cast<T*>(a.out) + (row0 + i) * (static_cast<std::size_t>(a.H) * a.D) + h * a.D;
  for (int d = threadIdx.x; d < a.D; d += kThreads) {
    float acc = 0.f;
    for (int j = 0; j < keys; ++j)
      acc += scores[j] * to_f32(v[static_cast<std::size_t>(j) * a.row_stride + d]);
    o[d] = from_f32<T>(acc * inv);
  }
}

}  // namespace

void attention_generic_cuda(const AttentionCudaArgs& a, Stream stream) {
  if (a.T > kGenericMaxKeys)
    throw Error("attention: head dim " + std::to_string(a.D) + " has only the generic CUDA " +
                "kernel, which holds at most " + std::to_string(kGenericMaxKeys) +
                " keys; T = " + std::to_string(a.T));
  dispatch_dtype("attention", a.dtype, [&](auto zero) {
    const dim3 grid(a.T, a.H, a.B);
    // The row of scores, rounded up to whole 16-byte pieces: compute-sanitizer saw the
    // compiler's unrolled reads of the row's tail reach past an exact-size allocation.
    const std::size_t smem = (static_cast<std::size_t>(a.T) + 3) / 4 * 4 * sizeof(float);
    generic_kernel<decltype(zero)><<<grid, kThreads, smem, stream>>>(a);
    CUDA_LAUNCH_CHECK();
  });
}

}  // namespace cugpt::kernels
