// Whole-model forward and decode: ms, tokens/s, achieved TFLOP/s and GB/s, and their fraction
// of the device's ceilings (bench/bench_util.h). CUDA cases
// report an error and skip on machines without a GPU.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>

#include "bench/bench_util.h"
#include "kernels/runtime.h"
#include "models/cost.h"
#include "models/generate.h"
#include "models/init.h"
#include "nn/device_peaks.h"

namespace {

using namespace cugpt;

void forward(benchmark::State& state, const std::string& config, Device device, DType dtype) {
  if (bench::skip_without_gpu(state, device)) return;
  const std::int64_t B = state.range(0), T = state.range(1);
  bench::Loaded& l = bench::model_for(config, device, dtype);
  Batch batch;
  batch.B = B;
  batch.T = T;
  for (std::int64_t i = 0; i < B * T; ++i)
    batch.tokens.push_back(static_cast<std::int32_t>(i % l.model->config().vocab_size));
  l.model->forward(batch);  // warm-up: cuBLASLt heuristics, page faults
  for (auto _ : state) {
    const double ms = time_ms(device, [&] { l.model->forward(batch); });
    state.SetIterationTime(ms / 1e3);
  }
  const ForwardCost cost = forward_cost(*l.model, B, T);
  const DevicePeaks& p = bench::peaks_for(l.arena, dtype);
  const double iters = static_cast<double>(state.iterations());
  using C = benchmark::Counter;
  state.counters["tokens/s"] = C(static_cast<double>(B * T) * iters, C::kIsRate);
  state.counters["TFLOP"] = C(cost.flops * iters / 1e12, C::kIsRate);
  state.counters["GB"] = C(cost.min_bytes * iters / 1e9, C::kIsRate);
  state.counters["peak_TFLOP/s"] = p.tflops(dtype);
  state.counters["peak_GB/s"] = p.bandwidth_gbs;
  state.SetLabel(p.source);
}

void decode(benchmark::State& state, const std::string& config, Device device, DType dtype) {
  if (bench::skip_without_gpu(state, device)) return;
  const std::int64_t context = state.range(0);
  bench::Loaded& l = bench::model_for(config, device, dtype);
  if (!l.gpt)
    return state.SkipWithError((config + " is not a causal LM: it does not decode").c_str());
  const Gpt& gpt = *l.gpt;
  Batch prompt;
  prompt.B = 1;
  prompt.T = context;
  prompt.tokens.assign(static_cast<std::size_t>(context), 1);
  GenerateOptions o;
  o.max_new = 9;
  for (auto _ : state) {
    const GenerateResult r = generate(gpt, prompt, o);
    state.SetIterationTime(r.decode_ms / 1e3);
  }
  const ForwardCost cost = decode_cost(*l.model, 1, context + 4);
  const DevicePeaks& p = bench::peaks_for(l.arena, dtype);
  const double steps = 8.0 * static_cast<double>(state.iterations());
  using C = benchmark::Counter;
  state.counters["tokens/s"] = C(steps, C::kIsRate);
  state.counters["roofline_tokens/s"] = p.bandwidth_gbs * 1e9 / cost.min_bytes;
  state.SetLabel(p.source);
}

const Device kCpu = Device::cpu();
const Device kCuda = Device::cuda(0);

// cpu: the Eigen reference path, small cases only.
BENCHMARK_CAPTURE(forward, day18_tiny_cpu_f32, "gpt-day18-tiny", kCpu, DType::f32)
    ->Args({4, 16})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(forward, gpt2_124m_cpu_f32, "gpt2-124m", kCpu, DType::f32)
    ->Args({1, 64})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK_CAPTURE(decode, gpt2_124m_cpu_f32, "gpt2-124m", kCpu, DType::f32)
    ->Arg(64)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2);

// cuda: the target cases, in bf16 (and f32 for the reference gap).
BENCHMARK_CAPTURE(forward, day18_cuda_bf16, "gpt-day18", kCuda, DType::bf16)
    ->Args({8, 256})
    ->Args({16, 256})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(forward, gpt2_124m_cuda_bf16, "gpt2-124m", kCuda, DType::bf16)
    ->Args({1, 1024})
    ->Args({4, 1024})
    ->Args({8, 1024})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(forward, gpt2_124m_cuda_f16, "gpt2-124m", kCuda, DType::f16)
    ->Args({8, 1024})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(forward, gpt2_124m_cuda_f32, "gpt2-124m", kCuda, DType::f32)
    ->Args({8, 1024})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(decode, gpt2_124m_cuda_bf16, "gpt2-124m", kCuda, DType::bf16)
    ->Arg(128)
    ->Arg(1000)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(decode, day18_cuda_bf16, "gpt-day18", kCuda, DType::bf16)
    ->Arg(128)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
