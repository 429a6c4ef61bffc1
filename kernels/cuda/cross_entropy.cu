// Softmax cross-entropy fused with its gradient on CUDA, the CPU twin's contract
// (kernels/cpu/cross_entropy.cpp): per row, loss = log(sum(exp(x - max))) - (x[target] - max)
// and dlogits = grad_scale * (softmax(x) - onehot(target)), overwriting the logits when asked.
//
// Design: one block of 256 threads per row. Every thread reads the target's logit first (before
// any thread can write the row); then three strided passes over the row, thread t taking
// columns t, t + 256, ...: the max (block reduction), the sum of exponentials in f32 (each
// thread's partial, then the block reduction of kernels/cuda/reduce.cuh in warp and lane order),
// and the gradient, each element read and written by the same thread after both reductions,
// so dlogits may alias logits. The exponentials are recomputed rather than stored: no (V)
// buffer. Sums have a fixed split and order: the same bits on every run. The f32 loss per row
// goes to `losses`; the caller sums the rows on the host in double.
#include "kernels/cross_entropy.h"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/convert.cuh"
#include "kernels/cuda/reduce.cuh"

namespace cugpt::kernels {

namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void __launch_bounds__(kThreads)
    cross_entropy_kernel(float* losses, T* dlogits, const T* logits, const std::int32_t* targets,
                         int V, int ld, int ignore_index, float grad_scale) {
  const std::size_t row = blockIdx.x;
  const std::size_t base = row * static_cast<std::size_t>(ld);  // columns [V, ld): padding
  const std::int32_t target = targets[row];
  if (target == ignore_index) {  // the whole block takes this branch
    if (losses && threadIdx.x == 0) losses[row] = 0.f;
    if (dlogits)
      for (int v = threadIdx.x; v < V; v += kThreads) dlogits[base + v] = from_f32<T>(0.f);
    return;
  }
  const T* x = logits + base;
  const float target_logit = to_f32(x[target]);  // read before any thread writes the row

  float mx = -INFINITY;
  for (int v = threadIdx.x; v < V; v += kThreads) mx = fmaxf(mx, to_f32(x[v]));
  mx = block_max<kThreads>(mx);
  float sum = 0.f;
  for (int v = threadIdx.x; v < V; v += kThreads) sum += expf(to_f32(x[v]) - mx);
  sum = block_sum<kThreads>(sum);  // every read of the row for the sums is done past here

  if (losses && threadIdx.x == 0) losses[row] = logf(sum) - (target_logit - mx);
  if (!dlogits) return;
  const float inv = 1.f / sum;
  T* g = dlogits + base;
  for (int v = threadIdx.x; v < V; v += kThreads) {
    const float p = expf(to_f32(x[v]) - mx) * inv;
    g[v] = from_f32<T>(grad_scale * (p - (v == target ? 1.f : 0.f)));
  }
}

}  // namespace

void cross_entropy_forward_backward_cuda(float* losses, void* dlogits, const void* logits,
                                         const std::int32_t* targets, int N, int V,
                                         int ignore_index, float grad_scale, DType dtype,
                                         Stream stream, int ld) {
  if (ld == 0) ld = V;
  dispatch_dtype("cross_entropy", dtype, [&](auto zero) {
    using T = decltype(zero);
    CUGPT_CHECK(N >= 0 && V > 0 && ld >= V, "cross_entropy: bad sizes");
    if (N == 0) return;
    CUGPT_CHECK(logits && targets, "cross_entropy: null logits or targets");
    cross_entropy_kernel<T><<<static_cast<unsigned>(N), kThreads, 0, stream>>>(
        losses, static_cast<T*>(dlogits), static_cast<const T*>(logits), targets, V, ld,
        ignore_index, grad_scale);
    CUDA_LAUNCH_CHECK();
  });
}

}  // namespace cugpt::kernels
