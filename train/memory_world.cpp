#include "train/memory_world.h"

#include <algorithm>
#include <vector>

#include "models/factory.h"
#include "nn/communicator.h"
#include "train/trainer.h"

namespace cugpt {

TrainOptions step_options(const MemoryQuery& q, std::int64_t T) {
  TrainOptions o;
  o.steps = 1;
  o.batch = q.batch;
  o.seq = T;
  o.optim.kind = q.optimizer;
  o.recompute = q.recompute;
  o.zero = q.zero;
  o.bucket_bytes = q.bucket_bytes;
  return o;
}

Dataset step_data(std::int64_t T) {
  return Dataset::from_tokens(
      std::vector<std::int32_t>(static_cast<std::size_t>(2 * (T + 1) + 2), 0), 1, 0.1);
}

CategoryBytes run_train_rank(Gpt& gpt, const MemoryQuery& q, std::int64_t T) {
  if (!gpt.wte().weight().device().is_meta())
    throw Error("memory: a data-parallel rank is predicted on the meta device only");
  auto comm = simulated_communicator(planned_rank(gpt, q), q.world);
  const Dataset data = step_data(T);
  Trainer trainer(gpt, data, step_options(q, T), comm.get());
  trainer.step();
  return gpt.wte().weight().arena_ptr()->stats().current;
}

int planned_rank(const ModelConfig& config, const MemoryQuery& q) {
  if (q.rank >= 0 || q.zero == 0 || q.world == 1) return planned_rank(Module(), q);
  auto arena = Arena::create(Device::meta(), 1ull << 50);
  return planned_rank(*build_gpt(config, arena, q.dtype, "memory --world"), q);
}

int planned_rank(const Module& model, const MemoryQuery& q) {
  if (q.world < 1) throw Error("memory: --world must be at least 1");
  if (q.rank >= q.world)
    throw Error("memory: --rank " + std::to_string(q.rank) + " is not one of the " +
                std::to_string(q.world) + " ranks");
  if (q.rank >= 0) return q.rank;
  if (q.zero == 0 || q.world == 1) return 0;
  // The ranks hold S elements each (the last one fewer) but in different numbers of pieces,
  // each an allocation rounded up to kArenaAlignment bytes: the most bytes of f32 states.
  const ShardLayout layout = ShardLayout::of(model, q.world, 0);
  std::vector<std::uint64_t> held(static_cast<std::size_t>(q.world), 0);
  for (int r = 0; r < q.world; ++r)
    for (std::size_t i = 0; i < layout.parameters(); ++i)
      held[static_cast<std::size_t>(r)] +=
          (static_cast<std::uint64_t>(layout.piece(i, r).size()) * 4 + kArenaAlignment - 1) /
          kArenaAlignment * kArenaAlignment;
  return static_cast<int>(std::max_element(held.begin(), held.end()) - held.begin());
}

WorldAnswer min_world(const ModelConfig& config, MemoryQuery q, std::int64_t global_batch,
                      int max_world) {
  if (global_batch <= 0) throw Error("memory: the global batch must be positive");
  WorldAnswer a;
  for (int n = 1; n <= max_world && n <= global_batch; ++n) {
    if (global_batch % n != 0) continue;
    q.world = n;
    q.batch = global_batch / n;
    a.result = simulate_memory(config, q);
    if (a.result.fits) {
      a.world = n;
      a.per_rank_batch = q.batch;
      return a;
    }
  }
  return a;
}

}  // namespace cugpt
