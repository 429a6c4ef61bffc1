#include "train/memory_plan.h"

#include <algorithm>
#include <map>

#include "kernels/runtime.h"
#include "models/decode_step.h"
#include "models/device_sampler.h"
#include "models/factory.h"
#include "nn/bytes.h"
#include "nn/optimizer.h"
#include "train/memory_world.h"
#include "train/trainer.h"

namespace cugpt {

namespace {

Batch dummy_batch(std::int64_t B, std::int64_t T) {
  Batch b;
  b.B = B;
  b.T = T;
  b.tokens.assign(static_cast<std::size_t>(B * T), 0);  // any valid id: meta reads no data
  return b;
}

// Each returns the arena's bytes per category when the step is over, before its own state goes:
// what a training loop holds between steps (parameters, gradients, optimizer states, master
// weights), or what generation holds between tokens (parameters and the filled KV cache).
CategoryBytes run_train(Arena& arena, Gpt& gpt, const MemoryQuery& q, std::int64_t T) {
  if (q.optimizer == OptimizerKind::none)
    throw Error("memory: training needs an optimizer (adamw or sgd)");
  if (q.world > 1) return run_train_rank(gpt, q, T);
  OptimizerOptions o;
  o.kind = q.optimizer;
  Training t = make_training(gpt, o);
  const Batch batch = dummy_batch(q.batch, T);
  const std::vector<std::int32_t> targets(batch.tokens.size(), 0);
  gpt.forward_backward(batch, targets, t.grads, q.recompute);
  ArenaTag tag(arena, "optimizer step");
  t.opt.step(t.grads, o.lr);
  return arena.stats().current;
}

// Offload: the Trainer's own step (train/offload.h), its host memory in `host`.
CategoryBytes run_train_offload(Arena& arena, Gpt& gpt, const MemoryQuery& q, std::int64_t T,
                                const std::shared_ptr<Arena>& host, MemoryResult& r) {
  if (q.world > 1) throw Error("memory: --offload runs on one rank (not yet with --world)");
  TrainOptions o = step_options(q, T);
  o.offload = q.offload;
  o.host_arena = host;
  const Dataset data = step_data(T);
  Trainer trainer(gpt, data, o);
  trainer.step();
  r.bus_d2h = trainer.offload()->d2h_bytes();
  r.bus_h2d = trainer.offload()->h2d_bytes();
  r.host_at_end = host->stats().current;
  return arena.stats().current;
}

// One forward with the full [B, T, V] logits, as `cugpt forward` and `bench` run it (and an
// encoder's inference).
CategoryBytes run_forward(Arena& arena, const Model& model, const MemoryQuery& q, std::int64_t T) {
  model.forward(dummy_batch(q.batch, T));
  return arena.stats().current;
}

// A causal LM generating: prefill T-1 tokens (the last position's logits only), then decode
// one, so the cache holds the whole context. On the device (q.decode): the sampler's buffers
// from the start, as `generate` allocates them, and the last step as models/decode_step.h runs
// it (its first graph step holds what a capture holds).
CategoryBytes run_generate(Arena& arena, const Gpt& gpt, const MemoryQuery& q, std::int64_t T) {
  using Decode = GenerateOptions::Decode;
  KvCache cache = gpt.make_cache(q.batch, T);
  if (q.decode == Decode::host) {
    if (T > 1) gpt.forward_cached(dummy_batch(q.batch, T - 1), cache);
    gpt.forward_cached(dummy_batch(q.batch, 1), cache);
    return arena.stats().current;
  }
  const std::vector<std::uint64_t> streams(static_cast<std::size_t>(q.batch), 0);
  DeviceSampler sampler(gpt.wte().weight(), q.batch, gpt.config().vocab_size, SamplingOptions{},
                        streams);
  if (T > 1) gpt.forward_cached(dummy_batch(q.batch, T - 1), cache);
  DecodeStep step(gpt, cache, sampler, std::vector<std::int32_t>(streams.size(), 0),
                  q.decode == Decode::device ? DecodeStep::Mode::eager : DecodeStep::Mode::graph,
                  q.decode == Decode::fused);
  step.enqueue();
  step.next_ids();
  return arena.stats().current;
}

}  // namespace

const char* memory_mode_name(MemoryMode mode) {
  switch (mode) {
    case MemoryMode::train:
      return "train";
    case MemoryMode::forward:
      return "forward";
    case MemoryMode::generate:
      return "generate";
  }
  return "?";
}

MemoryMode parse_memory_mode(const std::string& name) {
  if (name == "train") return MemoryMode::train;
  if (name == "forward") return MemoryMode::forward;
  if (name == "generate" || name == "infer") return MemoryMode::generate;
  throw Error("mode '" + name + "' (expected train, forward or generate)");
}

namespace {

// The host arena's tag for the whole step: running out there is told apart by it.
constexpr const char* kHostTag = "host memory";

// One step in an arena of `budget` bytes (and, offloaded, a host arena of `host_budget`). On
// the meta device running out is an answer, not an error: `ran_out_at` names the operation (or
// host_ran_out says the host ran out), the result holds the statistics until then.
MemoryResult run_step(const ModelConfig& config, const MemoryQuery& q, std::int64_t T,
                      std::uint64_t budget, std::uint64_t host_budget) {
  MemoryResult r;
  auto arena = Arena::create(q.device, budget);
  arena->record_timeline(q.timeline);
  std::shared_ptr<Arena> host;
  std::unique_ptr<ArenaTag> host_tag;
  if (q.mode == MemoryMode::train && q.offload != OffloadMode::none) {
    host = Arena::create(q.device.is_meta() ? Device::meta() : Device::cpu(), host_budget);
    host_tag = std::make_unique<ArenaTag>(*host, kHostTag);
  }
  try {
    std::unique_ptr<Gpt> gpt;
    std::unique_ptr<Model> encoder;
    {
      ArenaTag tag(*arena, "parameters");
      if (q.mode == MemoryMode::train || is_causal_lm(config))
        gpt = build_gpt(config, arena, q.dtype, "memory --mode train");
      else
        encoder = build_model(config, arena, q.dtype);
    }
    const Model& model = gpt ? static_cast<const Model&>(*gpt) : *encoder;
    if (q.mode == MemoryMode::train && host)
      r.at_end = run_train_offload(*arena, *gpt, q, T, host, r);
    else if (q.mode == MemoryMode::train)
      r.at_end = run_train(*arena, *gpt, q, T);
    else if (q.mode == MemoryMode::generate && gpt)
      r.at_end = run_generate(*arena, *gpt, q, T);
    else
      r.at_end = run_forward(*arena, model, q, T);
  } catch (const OutOfMemory& e) {
    if (!q.device.is_meta()) throw;
    if (host && e.tag() == kHostTag) {
      r.host_ran_out = true;
    } else {
      r.ran_out_at = e.tag().empty() ? "setup" : e.tag();
      r.ran_out_requested = e.requested();
      r.ran_out_largest_free = e.stats().largest_free;
    }
  }
  if (host) {
    const ArenaStats h = host->stats();
    r.host_peak = h.peak;
    r.host_at_peak = h.at_peak;
  }
  if (q.world > 1 && q.mode == MemoryMode::train) r.rank = planned_rank(config, q);
  if (q.device.is_cuda()) r.driver_used = cuda_used_bytes();
  const ArenaStats s = arena->stats();
  r.peak = s.peak;
  r.peak_at = s.peak_tag;
  r.at_peak = s.at_peak;
  if (q.timeline) r.timeline = arena->timeline();
  return r;
}

}  // namespace

MemoryResult simulate_memory(const ModelConfig& config, const MemoryQuery& q) {
  if (q.seq < 0) throw Error("memory: --seq must be positive (0: the longest the model takes)");
  const std::int64_t T = q.seq > 0 ? q.seq : config.max_sequence();
  if (q.batch <= 0) throw Error("memory: --batch must be positive");
  // The step's token ids, positions and targets are host vectors even on meta.
  if (q.batch > kMaxStepTokens / T)
    throw Error("memory: B x T = " + std::to_string(q.batch) + " x " + std::to_string(T) +
                " tokens per step is more than the " + std::to_string(kMaxStepTokens) +
                " cugpt handles");
  if (q.reserve >= q.vram) throw Error("memory: the reserve is larger than the card");
  const std::uint64_t available = q.vram - q.reserve;
  // On meta the arena gets exactly what the card would give it, so every block lands where it
  // would on the card: a step that runs out of contiguous space there runs out here, even with
  // its live bytes under the budget. On cpu and cuda the same code runs for real (zero
  // weights) in an arena of arena_budget, or the device's default.
  const std::uint64_t budget = q.arena_budget       ? q.arena_budget
                               : q.device.is_meta() ? available
                                                    : default_budget(q.device);
  const std::uint64_t host_budget = q.host_ram           ? q.host_ram
                                    : q.device.is_meta() ? 1ull << 50
                                                         : default_budget(Device::cpu());
  MemoryResult r = run_step(config, q, T, budget, host_budget);
  if ((!r.ran_out_at.empty() || r.host_ran_out) && !q.arena_budget && q.rerun_unbounded) {
    // It does not fit: the same step in unbounded arenas says by how much it would need.
    const MemoryResult bounded = r;
    r = run_step(config, q, T, 1ull << 50, 1ull << 50);
    r.ran_out_at = bounded.ran_out_at;
    r.ran_out_requested = bounded.ran_out_requested;
    r.ran_out_largest_free = bounded.ran_out_largest_free;
    r.host_ran_out = bounded.host_ran_out;
  }
  r.available = available;
  r.card_fits = r.ran_out_at.empty() && r.peak <= available;
  r.host_available = host_budget;
  r.host_fits = !r.host_ran_out && r.host_peak <= host_budget;
  r.fits = r.card_fits && r.host_fits;
  return r;
}

std::uint64_t parameter_bytes(const ModelConfig& config, DType dtype) {
  // Far above any model a config may describe (2^40 parameters of 8 bytes is 2^43).
  auto arena = Arena::create(Device::meta(), std::uint64_t{1} << 62);
  const auto model = build_model(config, arena, dtype);
  return arena->in_use();
}

PeakBound peak_lower_bound(const ModelConfig& config, const MemoryQuery& q) {
  const std::int64_t T = q.seq > 0 ? q.seq : config.max_sequence();
  const std::int64_t rows =
      q.mode == MemoryMode::generate && is_causal_lm(config) ? std::max<std::int64_t>(T - 1, 1) : T;
  PeakBound b;
  b.parameters = parameter_bytes(config, q.dtype);
  b.embedding_shape = {q.batch, rows, config.n_embd};
  // Options cap B at 2^38 and T at 2^24, C is at most 2^16: the product needs 128 bits.
  constexpr unsigned __int128 kMax = ~std::uint64_t{0};
  const unsigned __int128 emb = static_cast<unsigned __int128>(q.batch) *
                                static_cast<unsigned __int128>(rows) *
                                static_cast<unsigned __int128>(config.n_embd) * dtype_size(q.dtype);
  b.embedding =
      emb > kMax - kArenaAlignment ? ~std::uint64_t{0} : align_up(static_cast<std::uint64_t>(emb));
  b.total = b.embedding > ~std::uint64_t{0} - b.parameters ? ~std::uint64_t{0}
                                                           : b.parameters + b.embedding;
  return b;
}

MemoryResult check_train_plan(const ModelConfig& config, const TrainPlanInput& in) {
  const MemoryQuery& q = in.query;
  const std::int64_t B = q.batch, T = q.seq;
  if (T > config.max_positions)
    throw Error("--seq " + std::to_string(T) + " is longer than the " +
                std::to_string(config.max_positions) + " positions of " + config.name);
  const std::string where = format_bytes(in.budget) + " arena on " + in.device.str();
  const std::string details =
      "see `cugpt memory " + in.config_arg + " --mode train --batch " + std::to_string(B) +
      " --seq " + std::to_string(T) + " --dtype " + dtype_name(q.dtype) + " --optimizer " +
      optimizer_name(q.optimizer) + " --recompute " + std::to_string(q.recompute) + " --vram " +
      std::to_string(in.budget) + "B --reserve 0" +
      (q.offload == OffloadMode::none ? std::string()
                                      : std::string(" --offload ") + offload_name(q.offload) +
                                            " --host-ram " + std::to_string(q.host_ram) + "B") +
      (q.world > 1 ? " --world " + std::to_string(q.world) + " --zero " + std::to_string(q.zero)
                   : std::string()) +
      "`";
  const PeakBound bound = peak_lower_bound(config, q);
  if (bound.total > in.budget)
    throw Error("train: one step of B=" + std::to_string(B) + " x T=" + std::to_string(T) +
                " needs at least " + format_bytes(bound.total) + " (parameters " +
                format_bytes(bound.parameters) + " + the embedding output " +
                format_bytes(bound.embedding) + "), more than the " + where + " (" + details + ")");
  // The ids of one micro-batch, inputs and targets: host vectors on every device. B and T are
  // capped by the options (2^38, 2^24): the product fits in 64 bits.
  const std::uint64_t ids = static_cast<std::uint64_t>(B) * static_cast<std::uint64_t>(T) * 8;
  if (in.physical > 0 && ids > in.physical)
    throw Error("train: the token ids of one micro-batch (B=" + std::to_string(B) +
                " x T=" + std::to_string(T) + ", inputs and targets) take " + format_bytes(ids) +
                " of host memory, more than this machine's " + format_bytes(in.physical));
  if (B > kMaxStepTokens / T)
    throw Error("train: B x T = " + std::to_string(B) + " x " + std::to_string(T) +
                " tokens per micro-batch is more than the " + std::to_string(kMaxStepTokens) +
                " cugpt handles (use --accum for larger steps)");
  MemoryQuery plan = q;
  plan.mode = MemoryMode::train;
  plan.device = Device::meta();
  plan.vram = in.budget;
  plan.reserve = 0;
  plan.arena_budget = 0;
  const MemoryResult r = simulate_memory(config, plan);
  if (!r.card_fits && r.peak > in.budget)
    throw Error("train: one step of B=" + std::to_string(B) + " x T=" + std::to_string(T) +
                " peaks at " + format_bytes(r.peak) + " during '" + r.peak_at + "', " +
                format_bytes(r.peak - in.budget) + " more than the " + where + " (" + details +
                ")");
  if (!r.card_fits)
    throw Error("train: one step of B=" + std::to_string(B) + " x T=" + std::to_string(T) +
                " peaks at " + format_bytes(r.peak) + ", under the " + where + ", but at '" +
                r.ran_out_at + "' no free block of " + format_bytes(r.ran_out_requested) +
                " is left (the arena fragments; " + details + ")");
  if (!r.host_fits)
    throw Error("train: --offload " + std::string(offload_name(q.offload)) +
                ": the host's part of one step peaks at " + format_bytes(r.host_peak) +
                ", more than the " + format_bytes(q.host_ram) + " host arena of --host-ram (" +
                details + ")");
  // On the cpu the arena is host memory too, beside the offload's.
  const std::uint64_t host =
      (in.device.is_cpu() ? r.peak : 0) + (q.offload == OffloadMode::none ? 0 : r.host_peak);
  if (in.physical > 0 && host > 0 && (host > in.physical || ids > in.physical - host))
    throw Error("train: one step of B=" + std::to_string(B) + " x T=" + std::to_string(T) +
                " peaks at " + format_bytes(host) + " of host memory plus " + format_bytes(ids) +
                " of token ids, more than this machine's " + format_bytes(in.physical));
  return r;
}

namespace {
// The largest n in [1, limit] with fits(n), fits being monotone and fits(1) true, from a guess
// (a predicted answer in [2, limit]): it gallops up or down until it holds a fitting and a
// failing n, then bisects. A good guess takes a handful of calls.
template <typename F>
std::int64_t largest(std::int64_t limit, std::int64_t guess, F&& fits) {
  std::int64_t lo = 1, hi = limit + 1;  // fits(lo) holds; fits(hi) fails or hi is past the limit
  if (fits(guess)) {
    lo = guess;
    for (std::int64_t step = 1; lo < limit; step *= 2) {
      const std::int64_t next = std::min(limit, lo + step);
      if (!fits(next)) {
        hi = next;
        break;
      }
      lo = next;
    }
  } else {
    hi = guess;
    for (std::int64_t step = 1; hi - step > 1; step *= 2) {
      if (fits(hi - step)) {
        lo = hi - step;
        break;
      }
      hi -= step;
    }
  }
  while (hi - lo > 1) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    (fits(mid) ? lo : hi) = mid;
  }
  return lo;
}

// Where a step's peak, linear in the batch or the sequence for large ones, reaches the arena:
// from the peaks at 1 and 2 (0 when they say nothing).
std::int64_t linear_guess(std::uint64_t p1, std::uint64_t p2, std::uint64_t available) {
  if (p2 <= p1 || available <= p1) return 0;
  return 1 + static_cast<std::int64_t>(
                 std::min<std::uint64_t>((available - p1) / (p2 - p1), std::uint64_t{1} << 40));
}
}  // namespace

std::uint64_t min_vram(const ModelConfig& config, MemoryQuery q) {
  constexpr std::uint64_t kMiB = 1ull << 20;
  const auto mib_up = [](std::uint64_t n) { return (n + kMiB - 1) / kMiB * kMiB; };
  // Below the reserve plus the step's live bytes at its peak nothing fits; above, fragmentation
  // may ask for a little more. Each card that runs out says by how much its failing request
  // missed (requested - largest free): the next card is that much larger (at least double the
  // last jump, so that the widening ends), then the last two are bisected in whole steps: 1 MiB,
  // or 1/16384 of the card above 16 GiB (a dozen runs at most; MiB on a 1 TiB card took 30).
  q.vram = q.reserve + (1ull << 50);
  const std::uint64_t floor = q.reserve + simulate_memory(config, q).peak;
  q.rerun_unbounded = false;  // only the verdicts below
  const std::uint64_t kStep = std::max(kMiB, mib_up(floor / 16384));
  std::uint64_t bad = (floor - 1) / kStep * kStep, good = bad + kStep;  // bad < floor: no fit
  for (std::uint64_t jump = kStep;;) {
    q.vram = good;
    const MemoryResult r = simulate_memory(config, q);
    if (r.card_fits) break;
    const std::uint64_t missed = r.ran_out_requested > r.ran_out_largest_free
                                     ? r.ran_out_requested - r.ran_out_largest_free
                                     : kStep;
    jump = std::max((missed + kStep - 1) / kStep * kStep, 2 * jump);
    bad = good;
    good += jump;
  }
  while (good - bad > kStep) {
    const std::uint64_t mid = bad + (good - bad) / kStep / 2 * kStep;
    q.vram = mid;
    (simulate_memory(config, q).card_fits ? good : bad) = mid;
  }
  return good;
}

std::int64_t max_batch_limit(const ModelConfig& config, const MemoryQuery& q) {
  const std::int64_t T = q.seq > 0 ? q.seq : config.max_sequence();
  return std::min<std::int64_t>(1 << 16, kMaxExactTokens / T);
}

std::int64_t max_seq_limit(const ModelConfig& config, const MemoryQuery& q) {
  return std::min<std::int64_t>(config.max_sequence(),
                                kMaxExactTokens / std::max<std::int64_t>(q.batch, 1));
}

namespace {
// The largest value of q's `field` (its batch or its sequence) that fits, guessed from the peaks
// at 1 and 2 and then searched exactly.
std::int64_t largest_fitting(const ModelConfig& config, MemoryQuery q, std::int64_t limit,
                             std::int64_t MemoryQuery::*field) {
  q.rerun_unbounded = false;
  std::uint64_t peak[3] = {0, 0, 0};
  std::map<std::int64_t, bool> seen;  // each value is run once
  const auto fits = [&](std::int64_t n) {
    auto it = seen.find(n);
    if (it != seen.end()) return it->second;
    q.*field = n;
    const MemoryResult r = simulate_memory(config, q);
    if (n <= 2) peak[n] = r.ran_out_at.empty() ? r.peak : 0;
    return seen[n] = r.fits;
  };
  if (limit < 1 || !fits(1)) return 0;
  if (limit < 2 || !fits(2)) return 1;
  const std::uint64_t available = q.vram > q.reserve ? q.vram - q.reserve : 0;
  const std::int64_t guess = linear_guess(peak[1], peak[2], available);
  return largest(limit, std::min(limit, std::max<std::int64_t>(2, guess)), fits);
}
}  // namespace

std::int64_t max_batch(const ModelConfig& config, MemoryQuery q) {
  return largest_fitting(config, q, max_batch_limit(config, q), &MemoryQuery::batch);
}

std::int64_t max_seq(const ModelConfig& config, MemoryQuery q) {
  return largest_fitting(config, q, max_seq_limit(config, q), &MemoryQuery::seq);
}

}  // namespace cugpt
