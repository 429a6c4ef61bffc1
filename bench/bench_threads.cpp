// Where handing work to the cpu thread pool starts to pay (kernels/cpu/threads.h): one job of
// two chunks at one thread and at two, for chunks around kMinChunkWork units. Two kinds of
// chunk: a GEMM of `units` flops (4 rows against a (64, units / 512) weight: compute-bound)
// and a residual add of `units` floats (memory-bound: the second thread gains only what the
// memory system gives it). Below the crossover the hand-off (a futex wake when the worker
// sleeps, the wait for its chunk) costs more than the second thread saves. The pool also runs
// jobs inline by itself while it sees them lose (its accounting), so a two-thread figure that
// lost would converge to the one-thread one.
#include <benchmark/benchmark.h>

#include <vector>

#include "kernels/cpu/threads.h"
#include "kernels/matmul.h"
#include "kernels/residual.h"

namespace {

using namespace cugpt;

void BM_two_chunk_gemm(benchmark::State& state) {
  kernels::set_cpu_threads(static_cast<int>(state.range(0)));
  const int rows = 4, IC = 64, OC = static_cast<int>(state.range(1) / (2 * rows * IC));
  std::vector<float> x(rows * IC, 0.5f), w(2 * IC * OC, 0.25f), y(2 * rows * OC);
  for (auto _ : state) {
    kernels::parallel_chunks(2, 1, [&](std::int64_t c0, std::int64_t c1) {
      for (std::int64_t c = c0; c < c1; ++c)
        kernels::matmul_forward_cpu(y.data() + c * rows * OC, x.data(), w.data() + c * IC * OC,
                                    nullptr, rows, IC, OC, false);
    });
    benchmark::DoNotOptimize(y.data());
  }
  kernels::set_cpu_threads(0);
}

void BM_two_chunk_residual(benchmark::State& state) {
  kernels::set_cpu_threads(static_cast<int>(state.range(0)));
  const std::int64_t units = state.range(1);
  std::vector<float> a(2 * units, 1.f), b(2 * units, 2.f), out(2 * units);
  for (auto _ : state) {
    kernels::parallel_chunks(2, 1, [&](std::int64_t c0, std::int64_t c1) {
      for (std::int64_t c = c0; c < c1; ++c)
        kernels::residual_forward_cpu(out.data() + c * units, a.data() + c * units,
                                      b.data() + c * units, static_cast<std::size_t>(units));
    });
    benchmark::DoNotOptimize(out.data());
  }
  kernels::set_cpu_threads(0);
}

BENCHMARK(BM_two_chunk_gemm)
    ->ArgNames({"threads", "units"})
    ->ArgsProduct({{1, 2}, {16384, 65536, 262144, 1048576}})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_two_chunk_residual)
    ->ArgNames({"threads", "units"})
    ->ArgsProduct({{1, 2}, {16384, 65536, 262144, 1048576}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
