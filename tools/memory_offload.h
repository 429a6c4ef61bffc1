// `cugpt memory ... --offload MODE [--host-ram SIZE] [--pcie BW]`: an offloaded training step's
// two arenas, the card's and the host's, and the bytes it moves over the bus (train/offload.h),
// hooked into tools/memory.cpp; and the report's "what trains on a 4 GiB card" table.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include <nlohmann/json.hpp>

#include "train/memory_plan.h"

namespace cugpt::tools {

struct OffloadCli {
  std::string mode = "none", host_ram, pcie = "16GB/s";
  CLI::Option* pcie_option = nullptr;
};

void add_offload_options(CLI::App* sub, OffloadCli& o);
// Copies the options into the query (checked: --host-ram and --pcie need --offload, offload is
// for --mode train on one rank). The host arena defaults to the memory this machine can give
// now less 20%, as `train --offload` takes it.
void apply_offload(const OffloadCli& o, bool min_world, MemoryQuery& q);
// The host's side of an answer: its table, verdict and the bus (nothing without offload).
void print_offload(const OffloadCli& o, const MemoryQuery& q, const MemoryResult& r);
void add_offload_json(nlohmann::json& j, const MemoryQuery& q, const MemoryResult* r);

// Per category: the bytes at the end of the step and at its peak.
nlohmann::json categories_json(const CategoryBytes& end, const CategoryBytes& peak);

// The largest GPT-2 whose training step fits a 4 GiB card (the default reserve), bf16, AdamW,
// full recompute, B=1, T=1024, without offload and with each mode, and the host memory each
// needs: meta-device runs. Printed, or into *json.
void print_offload_verdicts(nlohmann::json* json = nullptr);

}  // namespace cugpt::tools
