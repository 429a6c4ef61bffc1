// One training step (forward with saved activations, fused cross-entropy, backward, AdamW) of
// the cases: tokens/s and ms per step through the Trainer `cugpt train` uses, on
// random token ids. bf16 on cuda (f32 master weights and AdamW states), f32 on the cpu at a
// small size. CUDA cases skip with the reason on a machine without a GPU.
#include <benchmark/benchmark.h>

#include <random>

#include "bench/bench_util.h"
#include "models/factory.h"
#include "models/init.h"
#include "train/trainer.h"

namespace {

using namespace cugpt;

void train_step(benchmark::State& state, const std::string& config_name, Device device,
                DType dtype) {
  if (bench::skip_without_gpu(state, device)) return;
  const ModelConfig config = load_config(config_name);
  TrainOptions o;
  o.batch = state.range(0);
  o.seq = state.range(1);
  o.steps = 1 << 20;  // the schedule never ends inside the benchmark
  std::mt19937 rng(5);
  std::vector<std::int32_t> tokens(static_cast<std::size_t>(o.batch * (o.seq + 1) * 64));
  for (auto& t : tokens) t = static_cast<std::int32_t>(rng() % config.vocab_size);
  const Dataset data = Dataset::from_tokens(std::move(tokens), config.vocab_size, 0.1);
  bench::release_models();
  auto arena = bench::shared_arena(device);
  auto gpt = build_gpt(config, arena, dtype);
  init_parameters(*gpt, 0);
  Trainer trainer(*gpt, data, o);
  trainer.step();       // warm-up: optimizer states, cuBLAS plans
  arena->reset_peak();  // the peak of the timed steps, model and optimizer included
  double tokens_per_s = 0;
  for (auto _ : state) {
    const StepReport r = trainer.step();
    state.SetIterationTime(r.ms / 1e3);
    tokens_per_s += r.tokens_per_s;
  }
  state.counters["tokens/s"] = tokens_per_s / static_cast<double>(state.iterations());
  state.counters["arena_peak_GiB"] = static_cast<double>(arena->stats().peak) / (1ull << 30);
}

const Device kCpu = Device::cpu();
const Device kCuda = Device::cuda(0);

BENCHMARK_CAPTURE(train_step, day18_tiny_cpu_f32, "gpt-day18-tiny", kCpu, DType::f32)
    ->Args({4, 16})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(train_step, day18_cuda_bf16, "gpt-day18", kCuda, DType::bf16)
    ->Args({8, 256})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(train_step, gpt2_124m_cuda_bf16, "gpt2-124m", kCuda, DType::bf16)
    ->Args({4, 1024})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
