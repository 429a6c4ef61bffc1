// One op at a time at the shapes of gpt2-124m (C = 768, H = 12, D = 64): ms per call,
// achieved TFLOP/s and GB/s, and the fraction of the device's ceiling for the term that bounds
// the op (arithmetic for the GEMMs and attention, bytes for the rest). Inputs are random
// (never zeros); outputs come from the arena as in the model. CUDA cases skip without a GPU.
#include <benchmark/benchmark.h>

#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "bench/bench_util.h"
#include "kernels/attention.h"
#include "nn/ops.h"

namespace {

using namespace cugpt;

constexpr std::int64_t kC = 768, kH = 12;

Tensor random_tensor(const std::shared_ptr<Arena>& arena, const Shape& shape, DType dtype,
                     Category category = Category::activation) {
  static std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.f, 1.f);
  Tensor t = Tensor::empty(arena, shape, dtype, category);
  std::vector<float> v(static_cast<std::size_t>(t.numel()));
  for (float& x : v) x = dist(rng);
  t.copy_from_floats(v);
  return t;
}

// Times fn, then reports the achieved rates and the fraction of the bounding ceiling.
void measure(benchmark::State& state, const std::shared_ptr<Arena>& arena, DType dtype,
             double flops, double bytes, bool compute_bound, const std::function<void()>& fn) {
  const Device device = arena->device();
  fn();  // warm-up: cuBLASLt heuristics, first-touch
  double seconds = 0;
  for (auto _ : state) {
    const double s = time_ms(device, fn) / 1e3;
    state.SetIterationTime(s);
    seconds += s;
  }
  const DevicePeaks& p = bench::peaks_for(arena, dtype);
  const double n = static_cast<double>(state.iterations());
  const double flop_rate = flops * n / seconds, byte_rate = bytes * n / seconds;
  state.counters["TFLOP/s"] = flop_rate / 1e12;
  state.counters["GB/s"] = byte_rate / 1e9;
  state.counters["of_peak"] =
      compute_bound ? flop_rate / (p.tflops(dtype) * 1e12) : byte_rate / (p.bandwidth_gbs * 1e9);
  state.SetLabel(std::string(compute_bound ? "compute-bound, " : "memory-bound, ") + p.source);
}

// Rows of activations: B * T with B = state.range(0), T = state.range(1).
std::int64_t rows(const benchmark::State& state) {
  return state.range(0) * state.range(1);
}

void linear(benchmark::State& state, Device device, DType dtype, std::int64_t out_features,
            kernels::Activation act, bool with_act) {
  if (bench::skip_without_gpu(state, device)) return;
  auto arena = bench::shared_arena(device);
  const std::int64_t M = rows(state), K = kC, N = out_features;
  Tensor x = random_tensor(arena, Shape({M, K}), dtype);
  Tensor w = random_tensor(arena, Shape({N, K}), dtype, Category::parameter);
  Tensor b = random_tensor(arena, Shape({N}), dtype, Category::parameter);
  const double es = static_cast<double>(dtype_size(dtype));
  const double flops = 2.0 * M * N * K, bytes = es * (M * K + N * K + N + M * N);
  measure(state, arena, dtype, flops, bytes, true, [&] {
    Tensor y = with_act ? ops::linear_act(x, w, &b, false, act) : ops::linear(x, w, &b, false);
  });
}

void layernorm(benchmark::State& state, Device device, DType dtype) {
  if (bench::skip_without_gpu(state, device)) return;
  auto arena = bench::shared_arena(device);
  const std::int64_t M = rows(state);
  Tensor x = random_tensor(arena, Shape({M, kC}), dtype);
  Tensor g = random_tensor(arena, Shape({kC}), dtype, Category::parameter);
  Tensor b = random_tensor(arena, Shape({kC}), dtype, Category::parameter);
  const double es = static_cast<double>(dtype_size(dtype));
  measure(state, arena, dtype, 8.0 * M * kC, es * 2.0 * M * kC, false,
          [&] { Tensor y = ops::layernorm(x, g, b, 1e-5); });
}

void add_layernorm(benchmark::State& state, Device device, DType dtype) {
  if (bench::skip_without_gpu(state, device)) return;
  auto arena = bench::shared_arena(device);
  const std::int64_t M = rows(state);
  Tensor x = random_tensor(arena, Shape({M, kC}), dtype);
  Tensor r = random_tensor(arena, Shape({M, kC}), dtype);
  Tensor g = random_tensor(arena, Shape({kC}), dtype, Category::parameter);
  Tensor b = random_tensor(arena, Shape({kC}), dtype, Category::parameter);
  const double es = static_cast<double>(dtype_size(dtype));
  measure(state, arena, dtype, 9.0 * M * kC, es * 4.0 * M * kC, false,
          [&] { ops::AddNorm y = ops::add_layernorm(x, r, g, b, 1e-5); });
}

void gelu(benchmark::State& state, Device device, DType dtype) {
  if (bench::skip_without_gpu(state, device)) return;
  auto arena = bench::shared_arena(device);
  const std::int64_t n = rows(state) * 4 * kC;
  Tensor x = random_tensor(arena, Shape({n}), dtype);
  const double es = static_cast<double>(dtype_size(dtype));
  measure(state, arena, dtype, 10.0 * n, es * 2.0 * n, false,
          [&] { Tensor y = ops::activation(x, kernels::Activation::gelu_tanh); });
}

void residual_add(benchmark::State& state, Device device, DType dtype) {
  if (bench::skip_without_gpu(state, device)) return;
  auto arena = bench::shared_arena(device);
  const std::int64_t n = rows(state) * kC;
  Tensor a = random_tensor(arena, Shape({n}), dtype);
  Tensor b = random_tensor(arena, Shape({n}), dtype);
  const double es = static_cast<double>(dtype_size(dtype));
  measure(state, arena, dtype, 1.0 * n, es * 3.0 * n, false, [&] { Tensor y = ops::add(a, b); });
}

void embedding(benchmark::State& state, Device device, DType dtype) {
  if (bench::skip_without_gpu(state, device)) return;
  auto arena = bench::shared_arena(device);
  const std::int64_t B = state.range(0), T = state.range(1), V = 50257;
  Tensor wte = random_tensor(arena, Shape({V, kC}), dtype, Category::parameter);
  Tensor wpe = random_tensor(arena, Shape({T, kC}), dtype, Category::parameter);
  std::vector<std::int32_t> tokens(static_cast<std::size_t>(B * T)), positions(tokens.size());
  std::mt19937 rng(3);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    tokens[i] = static_cast<std::int32_t>(rng() % V);
    positions[i] = static_cast<std::int32_t>(i % static_cast<std::size_t>(T));
  }
  const double es = static_cast<double>(dtype_size(dtype));
  measure(state, arena, dtype, 1.0 * B * T * kC, es * 3.0 * B * T * kC, false,
          [&] { Tensor y = ops::embedding(tokens, positions, B, T, wte, wpe, nullptr); });
}

void attention(benchmark::State& state, Device device, DType dtype, bool causal) {
  if (bench::skip_without_gpu(state, device)) return;
  auto arena = bench::shared_arena(device);
  const std::int64_t B = state.range(0), T = state.range(1), D = kC / kH;
  Tensor qkv = random_tensor(arena, Shape({B, T, 3 * kC}), dtype);
  const ops::AttentionInputs in{&qkv, 0, &qkv, kC, &qkv, 2 * kC};
  const double es = static_cast<double>(dtype_size(dtype));
  // QK^T and PV: 4 B H T^2 D, half of it under a causal mask.
  const double flops = 4.0 * B * kH * T * T * D * (causal ? 0.5 : 1.0);
  measure(state, arena, dtype, flops, es * 4.0 * B * T * kC, true,
          [&] { Tensor y = ops::attention(in, kC, kH, causal, nullptr); });
}

// The attention kernels themselves, v1 against v2 (kernels/attention.h, AttentionKernel) in the
// same process, fused QKV as in the model. Backward FLOPs by FlashAttention-2's convention:
// 2.5x the forward's (five T x T x D products to the forward's two), recomputation not counted.
void attention_kernel(benchmark::State& state, DType dtype, bool causal, bool backward,
                      kernels::AttentionKernel version) {
  const Device device = Device::cuda(0);
  if (bench::skip_without_gpu(state, device)) return;
  auto arena = bench::shared_arena(device);
  const std::int64_t B = state.range(0), T = state.range(1), D = kC / kH;
  Tensor qkv = random_tensor(arena, Shape({B, T, 3 * kC}), dtype);
  Tensor dout = random_tensor(arena, Shape({B, T, kC}), dtype);
  Tensor out = Tensor::empty(arena, Shape({B, T, kC}), dtype, Category::activation);
  Tensor grad = Tensor::empty(arena, Shape({B, T, 3 * kC}), dtype, Category::activation);
  const auto ws_floats = static_cast<std::int64_t>(
      kernels::attention_backward_workspace_floats(static_cast<int>(B), kH, static_cast<int>(T)));
  Tensor ws = Tensor::empty(arena, Shape({ws_floats}), DType::f32, Category::activation);
  const std::size_t es = dtype_size(dtype);
  char* x = static_cast<char*>(qkv.data());
  char* g = static_cast<char*>(grad.data());
  kernels::AttentionCudaArgs f;
  f.B = static_cast<int>(B), f.T = static_cast<int>(T), f.H = kH, f.D = static_cast<int>(D);
  f.q = x, f.k = x + kC * es, f.v = x + 2 * kC * es, f.row_stride = 3 * kC;
  f.out = out.data(), f.causal = causal, f.scale = 1.0f / std::sqrt(static_cast<float>(D));
  f.dtype = dtype, f.kernel = version;
  kernels::AttentionBackwardCudaArgs b;
  b.B = f.B, b.T = f.T, b.H = f.H, b.D = f.D, b.q = f.q, b.k = f.k, b.v = f.v;
  b.row_stride = f.row_stride, b.dout = dout.data();
  b.dq = g, b.dk = g + kC * es, b.dv = g + 2 * kC * es;
  b.causal = causal, b.scale = f.scale, b.dtype = dtype, b.kernel = version;
  b.workspace = static_cast<float*>(ws.data());
  const double forward_flops = 4.0 * B * kH * T * T * D * (causal ? 0.5 : 1.0);
  const double flops = backward ? 2.5 * forward_flops : forward_flops;
  measure(state, arena, dtype, flops, es * 4.0 * B * T * kC, true, [&] {
    if (backward) {
      kernels::attention_backward_cuda(b, nullptr);
    } else {
      kernels::attention_forward_cuda(f, nullptr);
    }
  });
}

void attention_decode(benchmark::State& state, Device device, DType dtype) {
  if (bench::skip_without_gpu(state, device)) return;
  auto arena = bench::shared_arena(device);
  const std::int64_t B = state.range(0), ctx = state.range(1);
  Tensor q = random_tensor(arena, Shape({B, 1, 3 * kC}), dtype);
  Tensor k = random_tensor(arena, Shape({B, ctx, kC}), dtype, Category::kv_cache);
  Tensor v = random_tensor(arena, Shape({B, ctx, kC}), dtype, Category::kv_cache);
  const double es = static_cast<double>(dtype_size(dtype));
  measure(state, arena, dtype, 4.0 * B * ctx * kC, es * 2.0 * B * ctx * kC, false,
          [&] { Tensor y = ops::attention_decode(q, 0, k, v, ctx - 1, kH); });
}

const Device kCpu = Device::cpu();
const Device kCuda = Device::cuda(0);
using kernels::Activation;
using kernels::AttentionKernel;

#define CUGPT_KERNEL_CASES(name, device, dtype, ...)                                            \
  BENCHMARK_CAPTURE(linear, qkv_##name, device, dtype, 3 * kC, Activation::relu, false)         \
  __VA_ARGS__;                                                                                  \
  BENCHMARK_CAPTURE(linear, fc_gelu_##name, device, dtype, 4 * kC, Activation::gelu_tanh, true) \
  __VA_ARGS__;                                                                                  \
  BENCHMARK_CAPTURE(layernorm, name, device, dtype) __VA_ARGS__;                                \
  BENCHMARK_CAPTURE(add_layernorm, name, device, dtype) __VA_ARGS__;                            \
  BENCHMARK_CAPTURE(gelu, name, device, dtype) __VA_ARGS__;                                     \
  BENCHMARK_CAPTURE(residual_add, name, device, dtype) __VA_ARGS__;                             \
  BENCHMARK_CAPTURE(embedding, name, device, dtype) __VA_ARGS__;                                \
  BENCHMARK_CAPTURE(attention, causal_##name, device, dtype, true) __VA_ARGS__;                 \
  BENCHMARK_CAPTURE(attention, bidirectional_##name, device, dtype, false) __VA_ARGS__

// cpu: the Eigen reference at a small size; cuda: gpt2-124m at B = 8, T = 1024.
CUGPT_KERNEL_CASES(cpu_f32, kCpu,
                   DType::f32, ->Args({1, 128})->UseManualTime()->Unit(benchmark::kMicrosecond));
CUGPT_KERNEL_CASES(cuda_bf16, kCuda,
                   DType::bf16, ->Args({8, 1024})->UseManualTime()->Unit(benchmark::kMicrosecond));
CUGPT_KERNEL_CASES(cuda_f16, kCuda,
                   DType::f16, ->Args({8, 1024})->UseManualTime()->Unit(benchmark::kMicrosecond));
CUGPT_KERNEL_CASES(cuda_f32, kCuda,
                   DType::f32, ->Args({8, 1024})->UseManualTime()->Unit(benchmark::kMicrosecond));
// B = 8, H = 12, T = 1024, D = 64 (issue 17's target case): old and new, forward and backward.
#define CUGPT_ATTENTION_KERNEL(name, ...)                \
  BENCHMARK_CAPTURE(attention_kernel, name, __VA_ARGS__) \
      ->Args({8, 1024})                                  \
      ->UseManualTime()                                  \
      ->Unit(benchmark::kMicrosecond)
CUGPT_ATTENTION_KERNEL(cuda_bf16_fwd_causal_v1, DType::bf16, true, false, AttentionKernel::v1);
CUGPT_ATTENTION_KERNEL(cuda_bf16_fwd_causal_v2, DType::bf16, true, false, AttentionKernel::v2);
CUGPT_ATTENTION_KERNEL(cuda_bf16_fwd_bidirectional_v1, DType::bf16, false, false,
                       AttentionKernel::v1);
CUGPT_ATTENTION_KERNEL(cuda_bf16_fwd_bidirectional_v2, DType::bf16, false, false,
                       AttentionKernel::v2);
CUGPT_ATTENTION_KERNEL(cuda_bf16_bwd_causal_v1, DType::bf16, true, true, AttentionKernel::v1);
CUGPT_ATTENTION_KERNEL(cuda_bf16_bwd_causal_v2, DType::bf16, true, true, AttentionKernel::v2);

BENCHMARK_CAPTURE(attention_decode, cpu_f32, kCpu, DType::f32)
    ->Args({1, 256})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(attention_decode, cuda_bf16, kCuda, DType::bf16)
    ->Args({1, 1024})
    ->Args({8, 1024})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
