// Allocator cost: a training step makes a few hundred transient allocations, so an allocation
// must cost well under a microsecond to stay invisible next to the kernels.
#include <benchmark/benchmark.h>

#include <vector>

#include "nn/arena.h"

namespace {

using cugpt::Arena;
using cugpt::Block;
using cugpt::Category;
using cugpt::Device;

// Allocate and free one transient block with a persistent model already in place.
void BM_ArenaAllocFree(benchmark::State& state) {
  Arena arena(Device::meta(), 4ull << 30);
  std::vector<Block> model;
  for (int i = 0; i < 160; ++i) model.push_back(arena.allocate(2u << 20, Category::parameter));
  const std::uint64_t bytes = static_cast<std::uint64_t>(state.range(0));
  for (auto _ : state) {
    Block b = arena.allocate(bytes, Category::activation);
    benchmark::DoNotOptimize(b);
    arena.free(b);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ArenaAllocFree)->Arg(4096)->Arg(24 << 20);

// A forward pass's pattern: N activations allocated in order, freed in reverse.
void BM_ArenaStackOfActivations(benchmark::State& state) {
  Arena arena(Device::meta(), 4ull << 30);
  const int n = static_cast<int>(state.range(0));
  std::vector<Block> live(static_cast<std::size_t>(n));
  for (auto _ : state) {
    for (int i = 0; i < n; ++i) live[i] = arena.allocate((1 + i % 5) << 20, Category::activation);
    for (int i = n - 1; i >= 0; --i) arena.free(live[i]);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_ArenaStackOfActivations)->Arg(64)->Arg(512);

}  // namespace
