// Exact memory answers without a GPU: the real training step, forward or generation runs on the
// meta device, whose arena places every allocation exactly as the cuda arena would (same code,
// kernels skipped), so the peak it records is the peak the card's arena will record.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/config.h"
#include "models/generate.h"
#include "nn/arena.h"
#include "nn/training_state.h"
#include "train/distributed.h"
#include "train/offload.h"

namespace cugpt {

// What the memory is for, named as the commands that do it:
// - train: forward, backward and the optimizer's step (`cugpt train`);
// - forward: one forward keeping the full [B, T, V] logits (`cugpt forward`, `cugpt bench`);
// - generate: prefill T-1 tokens keeping only the last position's logits, then one decode step
//   with the KV cache filled to T (`cugpt generate`). An encoder does not generate: its
//   generate is its forward.
// `infer` is the old name of generate, kept so that old suite lines and callers still read.
enum class MemoryMode { train, forward, generate, infer = generate };

// The bus between host and card that offload's copies are timed at, by default: 16 GB/s, about
// what a laptop's PCIe 4.0 x8 (or 3.0 x16) link moves in one direction.
constexpr double kDefaultBusBytesPerSecond = 16e9;

// "train", "forward" or "generate" (infer is generate).
const char* memory_mode_name(MemoryMode mode);
// The names above, and "infer" for generate; anything else is a one-line error.
MemoryMode parse_memory_mode(const std::string& name);

struct MemoryQuery {
  MemoryMode mode = MemoryMode::train;
  std::int64_t batch = 1, seq = 0;  // seq 0: the longest the model takes
  DType dtype = DType::f32;
  OptimizerKind optimizer = OptimizerKind::adamw;
  int recompute = 0;
  std::uint64_t vram = 4ull << 30;  // the card
  std::uint64_t reserve = 0;        // outside the arena: CUDA context, library workspaces
  bool timeline = false;
  // A step that runs out is run again in an unbounded arena, so that the answer says how much it
  // would need; the searches (max_batch, max_seq, min_vram) only need the verdict and skip it.
  bool rerun_unbounded = true;
  // cpu and cuda: the arena's budget (0: the device's default). Giving a real run exactly the
  // predicted peak checks that the prediction is enough, to the byte.
  std::uint64_t arena_budget = 0;
  // meta predicts; cpu and cuda run the same sequence for real (cpu in f32), which is how the
  // tests hold prediction and measurement equal.
  Device device = Device::meta();
  // Data parallel (train/memory_world.h): one rank's step of `world` ranks at per-rank batch
  // `batch` (meta only); rank -1 is the rank with the most optimizer state.
  int world = 1, rank = -1, zero = 0;
  // generate: how the decode step runs (models/generate.h's Decode): host as `generate` does by
  // default; device adds the device sampler's buffers and the step's ids and positions; graph
  // and fused also the blocks a captured graph holds while it lives.
  GenerateOptions::Decode decode = GenerateOptions::Decode::host;
  std::uint64_t bucket_bytes = kDefaultBucketBytes;
  // Optimizer offload (train/offload.h, train only): the host arena's budget (0: unbounded on
  // meta, the cpu's default arena otherwise) and the bus the step's copies are timed at.
  OffloadMode offload = OffloadMode::none;
  std::uint64_t host_ram = 0;
  double bus_bytes_per_s = kDefaultBusBytesPerSecond;
};

// The memory a real card loses outside cugpt's arena, as a default for --reserve: the CUDA
// context with lazy module loading (about 300 MB: PyTorch measured 287 MB when it made lazy
// loading its default) and cuBLAS/cuBLASLt handle state. An estimate for a 4 GB card until one
// is measured; an H100 measured 594.8 MiB (docs/memory.md).
constexpr std::uint64_t kDefaultReserve = 320ull << 20;

// The most tokens (B x T) one simulated step takes: their ids are host memory even on meta.
constexpr std::int64_t kMaxStepTokens = std::int64_t{1} << 27;
// The most tokens (B x T) `cugpt memory` and its searches simulate: a meta step costs host time
// and memory linear in B x T (the ids, positions and targets are host vectors), about 0.1 s at
// this size. Beyond it, peak_lower_bound() answers when it can (docs/memory.md).
constexpr std::int64_t kMaxExactTokens = std::int64_t{1} << 21;

struct MemoryResult {
  bool fits = false;            // the card and (with offload) the host
  bool card_fits = false;       // the card's arena alone
  std::uint64_t peak = 0;       // arena bytes at the step's peak
  std::uint64_t available = 0;  // vram - reserve: what the arena may use
  std::string peak_at;          // the operation running at the peak
  CategoryBytes at_peak{};
  // When the step is over, with what the next step reuses still held: parameters, gradients,
  // optimizer states and master weights (train), parameters (forward), parameters and the
  // filled KV cache (generate).
  CategoryBytes at_end{};
  std::vector<TimelineEvent> timeline;
  // cuda: the driver's used bytes on the card at the end of the step, the arena still held.
  std::uint64_t driver_used = 0;
  // Where the step ran out of arena on the card ("" if it did not): with the peak under the
  // arena's size, the space was there but not in one piece (fragmentation).
  std::string ran_out_at;
  std::uint64_t ran_out_requested = 0, ran_out_largest_free = 0;
  int rank = 0;  // the rank whose step this is (data parallel)
  // Optimizer offload: the host arena's step as the card's above, whether it fits host_ram, and
  // the bytes a step copies each way (the first step's copy of the parameters not included).
  bool host_fits = true, host_ran_out = false;
  std::uint64_t host_peak = 0, host_available = 0;
  CategoryBytes host_at_peak{}, host_at_end{};
  std::uint64_t bus_d2h = 0, bus_h2d = 0;
};

MemoryResult simulate_memory(const ModelConfig& config, const MemoryQuery& q);

// A lower bound on the step's peak computed without running it at the query's batch (a meta
// build of the model, nothing of size B x T): the parameters, held through the whole step, plus
// the first activation every mode allocates while they are held, the embedding output of B x T
// x C values (generate: its prefill, B x (T-1) x C, or B x 1 x C when T is 1). Saturates at
// 2^64 - 1. When it exceeds the arena, the step cannot fit, whatever the rest of it does.
struct PeakBound {
  std::uint64_t parameters = 0;
  std::uint64_t embedding = 0;
  std::uint64_t total = 0;
  std::vector<std::int64_t> embedding_shape;  // [B, T, C]
};
PeakBound peak_lower_bound(const ModelConfig& config, const MemoryQuery& q);

// What `cugpt train` checks before it allocates anything (the checks `init` needs are in
// parameter_bytes). Each failure is one cugpt::Error line naming the shortfall and, for the
// arena, the `cugpt memory` command that shows the step's details.
struct TrainPlanInput {
  std::string config_arg;    // as the user named the config, for the suggested command
  MemoryQuery query;         // mode train, batch, seq, dtype, optimizer, recompute
  std::uint64_t budget = 0;  // the arena the run will create
  Device device = Device::cpu();
  std::uint64_t physical = 0;  // the machine's memory (0: unknown, not checked)
};
// In order: the sequence against the model's positions; the lower bound against the arena;
// the host ids of one micro-batch (inputs and targets, 4 bytes each) against the machine's
// memory; B x T against kMaxStepTokens; then the step itself on the meta device against the
// arena (the arena plus the ids against the machine's memory on cpu). Returns the step's plan.
MemoryResult check_train_plan(const ModelConfig& config, const TrainPlanInput& in);

// The bytes of the model's parameters in `dtype`, counted by building it on the meta device.
std::uint64_t parameter_bytes(const ModelConfig& config, DType dtype);

// The largest batch (for the query's seq) or the longest sequence (for its batch) that fits;
// 0 when not even 1 does.
std::int64_t max_batch(const ModelConfig& config, MemoryQuery q);
std::int64_t max_seq(const ModelConfig& config, MemoryQuery q);
// The smallest card (with the query's reserve) on which the step fits, to 1 MiB on cards up to
// 16 GiB and to 1/16384 of the card above (whole MiB): at least the reserve plus the peak, more
// where the arena would fragment. A bounded search: under a second for any step cugpt simulates.
std::uint64_t min_vram(const ModelConfig& config, MemoryQuery q);
// The largest value each search tries (2^16 sequences, or the model's longest sequence, within
// kMaxExactTokens): an answer equal to it means "at least this many".
std::int64_t max_batch_limit(const ModelConfig& config, const MemoryQuery& q);
std::int64_t max_seq_limit(const ModelConfig& config, const MemoryQuery& q);

}  // namespace cugpt
