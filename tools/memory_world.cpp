#include "tools/memory_world.h"

#include <cstdio>

#include "nn/bytes.h"
#include "tools/options.h"
#include "train/memory_world.h"

namespace cugpt::tools {

void add_world_options(CLI::App* sub, WorldCli& w) {
  sub->add_option("--world", w.world,
                  "Data parallel: ranks (one card each); --batch is per rank (docs/distributed.md)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  sub->add_option("--rank", w.rank, "With --world: this rank (default: the one with most state)")
      ->check(CLI::Range(0, 4095));
  sub->add_option("--zero", w.zero, "With --world: 1 shards the optimizer states over the ranks")
      ->check(CLI::Range(0, 1))
      ->capture_default_str();
  sub->add_option("--bucket", w.bucket, "With --world: the bytes of gradients exchanged a round")
      ->check(opt::size());
  sub->add_flag("--min-world", w.min_world,
                "The fewest cards of --vram that train a global batch of --batch");
}

void apply_world(const WorldCli& w, MemoryQuery& q) {
  if (w.min_world && w.world != 1)
    throw Error("--min-world searches the world: drop --world (or drop --min-world)");
  if (w.world == 1 && !w.min_world && (w.rank >= 0 || w.zero != 0 || !w.bucket.empty()))
    throw Error("--rank, --zero and --bucket describe a data-parallel rank: give --world N");
  if ((w.world > 1 || w.min_world) && q.mode != MemoryMode::train)
    throw Error("--world and --min-world are for --mode train");
  if (w.rank >= w.world && !w.min_world)
    throw Error("--rank " + std::to_string(w.rank) + " is not one of the " +
                std::to_string(w.world) + " ranks of --world");
  q.world = w.world;
  q.rank = w.rank;
  q.zero = w.zero;
  if (!w.bucket.empty()) q.bucket_bytes = opt::parse_size("--bucket", w.bucket);
}

int run_min_world(const ModelConfig& config, const MemoryQuery& q, bool json) {
  const WorldAnswer a = min_world(config, q, q.batch, static_cast<int>(q.batch));
  const long long T = q.seq > 0 ? q.seq : config.max_sequence();
  if (json) {
    nlohmann::json j = {{"config", config.name},
                        {"dtype", dtype_name(q.dtype)},
                        {"optimizer", optimizer_name(q.optimizer)},
                        {"recompute", q.recompute},
                        {"zero", q.zero},
                        {"global_batch", q.batch},
                        {"seq", T},
                        {"vram_bytes", q.vram},
                        {"reserve_bytes", q.reserve},
                        {"min_world", a.world},
                        {"per_rank_batch", a.per_rank_batch}};
    if (a.world > 0) j["peak_bytes_per_rank"] = a.result.peak;
    std::printf("%s\n", j.dump(2).c_str());
  } else if (a.world > 0) {
    std::printf(
        "%s %s, global batch %lld, T=%lld, zero %d: %d card%s of %s (B=%lld per rank, peak %s "
        "per rank)\n",
        config.name.c_str(), dtype_name(q.dtype), static_cast<long long>(q.batch), T, q.zero,
        a.world, a.world > 1 ? "s" : "", format_bytes(q.vram).c_str(),
        static_cast<long long>(a.per_rank_batch), format_bytes(a.result.peak).c_str());
  } else {
    std::printf(
        "%s %s, global batch %lld, T=%lld, zero %d: no world of up to %lld cards of %s fits "
        "without accumulation (try %s%s--recompute or a larger --vram)\n",
        config.name.c_str(), dtype_name(q.dtype), static_cast<long long>(q.batch), T, q.zero,
        static_cast<long long>(q.batch), format_bytes(q.vram).c_str(),
        q.zero == 0 ? "--zero 1, " : "", q.dtype == DType::f32 ? "bf16, " : "");
  }
  return a.world > 0 ? 0 : 3;
}

std::string world_words(const MemoryQuery& q, const MemoryResult& r) {
  if (q.world <= 1) return "";
  return "data parallel: rank " + std::to_string(r.rank) + " of " + std::to_string(q.world) +
         ", zero " + std::to_string(q.zero) + ", B=" + std::to_string(q.batch) +
         " per rank, global batch " + std::to_string(q.batch * q.world) + "\n";
}

void add_world_json(nlohmann::json& j, const MemoryQuery& q, const MemoryResult* r) {
  if (q.world <= 1) return;
  j["world"] = q.world;
  j["zero"] = q.zero;
  if (r) j["rank"] = r->rank;
  if (j.contains("max_batch")) j["max_global_batch"] = j["max_batch"].get<long long>() * q.world;
  if (j.contains("batch")) j["global_batch"] = q.batch * q.world;
}

}  // namespace cugpt::tools
