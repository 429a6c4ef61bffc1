// The host half of optimizer offload (train/offload.h): the cpu's AdamW over N parameters, f32
// and bf16 through f32 masters, in GB/s of the bytes it must move, as a fraction of the host's
// measured memory bandwidth (nn/device_peaks.h, with the same threads). The case is
// gpt2-355m's 355M parameters (`--benchmark_filter=host_adamw/355`): 5.7 GiB for bf16.
//   bf16: reads grad (2), m, v, master (12); writes m, v, master (12), param (2): 28 B/param.
//   f32:  reads grad, m, v, param (16); writes m, v, param (12): 28 B/param.
#include <benchmark/benchmark.h>

#include <chrono>
#include <vector>

#include "bench/bench_util.h"
#include "kernels/adamw.h"
#include "kernels/cpu/threads.h"

namespace {

using namespace cugpt;

void host_adamw(benchmark::State& state, DType dtype) {
  const std::int64_t n = state.range(0) * 1000000;
  const std::size_t es = dtype_size(dtype);
  const std::uint64_t bytes = static_cast<std::uint64_t>(n) * (2 * es + (es < 4 ? 4 : 0) + 8);
  auto arena = Arena::create(Device::cpu(), bytes + (64ull << 20));
  const auto tensor = [&](DType t, Category c) { return Tensor::zeros(arena, {n}, t, c); };
  Tensor p = tensor(dtype, Category::parameter), g = tensor(dtype, Category::gradient);
  Tensor m = tensor(DType::f32, Category::optimizer_state);
  Tensor v = tensor(DType::f32, Category::optimizer_state);
  Tensor master = es < 4 ? tensor(DType::f32, Category::master_weight) : Tensor();
  // Written gradients: untouched pages of the lazily committed arena would all read the one
  // zero page, from cache.
  std::vector<float> values(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < values.size(); ++i)
    values[i] = static_cast<float>((i * 2654435761u) % 2001) * 1e-5f - 0.01f;
  g.copy_from_floats(values);
  values = {};
  kernels::AdamwHyper h;
  const auto N = static_cast<std::size_t>(n);
  const auto step = [&] {
    ++h.step;
    if (es < 4)
      kernels::adamw_step_cpu(static_cast<std::uint16_t*>(p.data()),
                              static_cast<const std::uint16_t*>(g.data()), m.data_as<float>(),
                              v.data_as<float>(), master.data_as<float>(), N, h, dtype);
    else
      kernels::adamw_step_cpu(p.data_as<float>(), g.data_as<float>(), m.data_as<float>(),
                              v.data_as<float>(), N, h);
  };
  step();  // every page touched once before timing
  double seconds = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  const double gbs =
      28.0 * static_cast<double>(n) * static_cast<double>(state.iterations()) / seconds / 1e9;
  auto probe = Arena::create(Device::cpu(), 1ull << 30);
  const DevicePeaks& peaks = bench::peaks_for(probe, DType::f32);
  state.counters["GB/s"] = gbs;
  state.counters["host_GB/s"] = peaks.bandwidth_gbs;
  state.counters["of_host"] = gbs / peaks.bandwidth_gbs;
  state.counters["threads"] = kernels::cpu_threads();
  state.SetLabel("bytes a step moves: 28 B/param; ceiling: " + peaks.source);
}

BENCHMARK_CAPTURE(host_adamw, f32, DType::f32)->Arg(16)->Arg(124)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(host_adamw, bf16_master, DType::bf16)
    ->Arg(16)
    ->Arg(124)
    ->Arg(355)
    ->Unit(benchmark::kMillisecond);

}  // namespace
