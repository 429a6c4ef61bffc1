// `cugpt memory --world N [--rank R] [--zero 0|1] [--bucket SIZE] [--min-world]`: the memory of
// one rank of a data-parallel run (train/memory_world.h), hooked into tools/memory.cpp.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "models/config.h"
#include "train/memory_plan.h"

namespace cugpt::tools {

struct WorldCli {
  int world = 1, rank = -1, zero = 0;
  std::string bucket;
  bool min_world = false;
};

void add_world_options(CLI::App* sub, WorldCli& w);
// Copies the options into the query (checked: --rank and --zero need --world).
void apply_world(const WorldCli& w, MemoryQuery& q);
// --min-world: the fewest cards of q.vram for a global batch of q.batch. Exit code 0, or 3 when
// no world up to the batch fits.
int run_min_world(const ModelConfig& config, const MemoryQuery& q, bool json);
// What a data-parallel answer adds: the rank, the per-rank and the global batch (nothing for
// one rank).
std::string world_words(const MemoryQuery& q, const MemoryResult& r);
void add_world_json(nlohmann::json& j, const MemoryQuery& q, const MemoryResult* r);

}  // namespace cugpt::tools
