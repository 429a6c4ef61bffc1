// Memory per rank of a data-parallel run (train/distributed.h), predicted as a single card's is:
// one rank's real Trainer step on the meta device, with its slice of the batch, its share of the
// optimizer states under ZeRO-1 and the exchange buffers, in an arena of the card's size.
#pragma once

#include <cstdint>

#include "models/gpt.h"
#include "train/dataset.h"
#include "train/memory_plan.h"
#include "train/trainer.h"

namespace cugpt {

// One simulated Trainer step of the query (a rank's, or an offloaded one's): its options (one
// step, q's batch, T, optimizer, recompute, ZeRO and bucket), and the smallest token stream a
// batch of T can be cut from (its ids are host memory; meta reads none).
TrainOptions step_options(const MemoryQuery& q, std::int64_t T);
Dataset step_data(std::int64_t T);

// The training step of rank q.rank (planned_rank) of q.world at per-rank batch q.batch; the
// arena's bytes per category when it is over. Meta only: a simulated rank moves no data.
CategoryBytes run_train_rank(Gpt& gpt, const MemoryQuery& q, std::int64_t T);

// q.rank, or (-1) the rank that holds the most optimizer state: under ZeRO-1 the shards differ,
// and the card must fit the largest; without ZeRO every rank's step is the same, rank 0.
int planned_rank(const ModelConfig& config, const MemoryQuery& q);
int planned_rank(const Module& model, const MemoryQuery& q);

struct WorldAnswer {
  int world = 0;  // 0: no world up to the limit fits
  std::int64_t per_rank_batch = 0;
  MemoryResult result;  // the last world tried
};
// The fewest ranks (each a card of q.vram) that train a global batch of `global_batch`
// sequences without accumulation: the smallest N <= max_world dividing it whose per-rank step
// at global_batch / N fits.
WorldAnswer min_world(const ModelConfig& config, MemoryQuery q, std::int64_t global_batch,
                      int max_world);

}  // namespace cugpt
