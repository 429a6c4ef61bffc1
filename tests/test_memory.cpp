// The memory-budget suite: meta-device predictions equal what the cpu (and, with a GPU, the
// cuda) arena measures for the same step, byte for byte; and every line of
// configs/memory-suite.txt holds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "kernels/runtime.h"
#include "models/factory.h"
#include "nn/bytes.h"
#include "train/memory_plan.h"

namespace cugpt {
namespace {

void expect_same(const MemoryResult& predicted, const MemoryResult& measured) {
  EXPECT_EQ(predicted.peak, measured.peak);
  EXPECT_EQ(predicted.at_peak, measured.at_peak);
  EXPECT_EQ(predicted.at_end, measured.at_end);
  EXPECT_EQ(predicted.peak_at, measured.peak_at);
}

// `q` is a step meta predicted does not fit, now on a device that computes, in an arena of what
// the card leaves: it must run out at the operation meta named, asking for the same bytes.
void expect_runs_out_as_predicted(const ModelConfig& config, const MemoryQuery& q,
                                  const MemoryResult& predicted) {
  ASSERT_FALSE(predicted.ran_out_at.empty()) << "meta says it fits";
  try {
    simulate_memory(config, q);
    ADD_FAILURE() << "it ran; meta said it runs out at '" << predicted.ran_out_at << "'";
  } catch (const OutOfMemory& e) {
    EXPECT_EQ(e.tag().empty() ? "setup" : e.tag(), predicted.ran_out_at);
    EXPECT_EQ(e.requested(), predicted.ran_out_requested);
    std::printf("%s on %s: runs out at '%s' asking for %s, as predicted\n", config.name.c_str(),
                q.device.str().c_str(), predicted.ran_out_at.c_str(),
                format_bytes(e.requested()).c_str());
  }
}

TEST(MemoryPrediction, TrainingStepMetaEqualsCpu) {
  for (const char* name : {"gpt-day18-tiny", "gpt2-tiny"}) {
    for (int recompute = 0; recompute <= 3; ++recompute) {
      for (OptimizerKind opt : {OptimizerKind::adamw, OptimizerKind::sgd}) {
        MemoryQuery q;
        q.batch = 3;
        q.seq = 11;
        q.recompute = recompute;
        q.optimizer = opt;
        const MemoryResult predicted = simulate_memory(load_config(name), q);
        q.device = Device::cpu();
        const MemoryResult measured = simulate_memory(load_config(name), q);
        SCOPED_TRACE(std::string(name) + " recompute " + std::to_string(recompute));
        expect_same(predicted, measured);
        EXPECT_GT(predicted.at_peak[static_cast<int>(Category::gradient)], 0u);
      }
    }
  }
}

TEST(MemoryPrediction, ForwardAndGenerateMetaEqualsCpu) {
  for (MemoryMode mode : {MemoryMode::forward, MemoryMode::generate}) {
    for (const char* name : {"gpt-day18-tiny", "gpt2-tiny", "roberta-tiny"}) {
      MemoryQuery q;
      q.mode = mode;
      q.optimizer = OptimizerKind::none;
      q.batch = 2;
      q.seq = 13;
      const MemoryResult predicted = simulate_memory(load_config(name), q);
      q.device = Device::cpu();
      SCOPED_TRACE(std::string(name) + " " + memory_mode_name(mode));
      expect_same(predicted, simulate_memory(load_config(name), q));
    }
  }
}

// The decode step on the device (models/decode_step.h): meta predicts the cpu's run byte for
// byte, the device sampler's buffers and (graph, fused) the blocks a capture holds included;
// each adds to the host path's footprint.
TEST(MemoryPrediction, DeviceDecodeStepsMetaEqualsCpu) {
  using Decode = GenerateOptions::Decode;
  for (const char* name : {"gpt-day18-tiny", "gpt2-tiny"}) {
    MemoryQuery q;
    q.mode = MemoryMode::generate;
    q.optimizer = OptimizerKind::none;
    q.batch = 3;
    q.seq = 11;
    const MemoryResult host = simulate_memory(load_config(name), q);
    const int ws = static_cast<int>(Category::workspace);
    for (const Decode d : {Decode::device, Decode::graph, Decode::fused}) {
      q.decode = d;
      q.device = Device::meta();
      const MemoryResult predicted = simulate_memory(load_config(name), q);
      q.device = Device::cpu();
      SCOPED_TRACE(std::string(name) + " " + decode_name(d));
      expect_same(predicted, simulate_memory(load_config(name), q));
      EXPECT_GT(predicted.at_end[ws], host.at_end[ws]);
      if (d != Decode::device) {  // the held blocks stay after the step
        q.decode = Decode::device;
        q.device = Device::meta();
        EXPECT_GT(predicted.at_end[ws], simulate_memory(load_config(name), q).at_end[ws]);
      }
    }
  }
}

// forward keeps the [B, T, V] logits that `forward` and `bench` compute; generate keeps the last
// position's only (prefill) and a KV cache. The case: gpt-day18 bf16 at T=256.
TEST(MemoryPrediction, ForwardHoldsTheFullLogitsGenerateDoesNot) {
  const ModelConfig c = load_config("gpt-day18");
  MemoryQuery q;
  q.dtype = DType::bf16;
  q.batch = 16;
  q.seq = 256;
  q.mode = MemoryMode::forward;
  const MemoryResult forward = simulate_memory(c, q);
  q.mode = MemoryMode::generate;
  const MemoryResult generate = simulate_memory(c, q);
  const std::uint64_t logits = 16ull * 256 * c.vocab_size * 2;  // bf16
  const int act = static_cast<int>(Category::activation);
  EXPECT_GE(forward.at_peak[act], logits);
  EXPECT_LT(generate.at_peak[act], logits / 4);
  EXPECT_EQ(forward.at_end[static_cast<int>(Category::kv_cache)], 0u);
  EXPECT_GT(generate.at_end[static_cast<int>(Category::kv_cache)], 0u);
  // So the largest forward batch is well under the largest generate batch.
  q.mode = MemoryMode::forward;
  const std::int64_t most_forward = max_batch(c, q);
  q.mode = MemoryMode::generate;
  EXPECT_LT(most_forward, max_batch(c, q));
}

TEST(MemoryMode, NamesRoundTripAndInferIsGenerate) {
  for (MemoryMode m : {MemoryMode::train, MemoryMode::forward, MemoryMode::generate})
    EXPECT_EQ(parse_memory_mode(memory_mode_name(m)), m);
  EXPECT_EQ(parse_memory_mode("infer"), MemoryMode::generate);
  EXPECT_THROW(parse_memory_mode("inference"), Error);
}

// A step that does not fit runs out on the cpu exactly where and how meta said: in the middle of
// the step (activations), and at setup (the parameters alone are too many).
TEST(MemoryPrediction, WhereItRunsOutIsPredicted) {
  const ModelConfig config = load_config("gpt-day18-tiny");
  for (std::uint64_t vram : {std::uint64_t{12} << 20, std::uint64_t{64} << 10}) {
    MemoryQuery q;
    q.batch = 400;
    q.seq = 16;
    q.vram = vram;
    q.reserve = 0;
    const MemoryResult predicted = simulate_memory(config, q);
    SCOPED_TRACE(format_bytes(vram) + ": meta ran out at '" + predicted.ran_out_at + "'");
    EXPECT_FALSE(predicted.fits);
    EXPECT_EQ(predicted.ran_out_at == "parameters", vram < (1u << 20));
    q.device = Device::cpu();
    q.arena_budget = predicted.available;
    expect_runs_out_as_predicted(config, q, predicted);
  }
}

// The smallest card is the edge of fitting, in whole MiB: at or above the reserve plus the peak,
// and above it where the arena fragments. Whole-block recompute keeps its checkpoints at the low
// end, so gpt-day18 f32 at batch 62 needs no more than its peak; without recompute, batch 33
// leaves holes among the saved activations (some 70 MiB).
TEST(MemoryPrediction, SmallestCardIsTheEdgeOfFitting) {
  struct Case {
    const char* config;
    DType dtype;
    std::int64_t batch;
    int recompute;
    std::uint64_t min_gap, max_gap;  // smallest card - (reserve + peak)
  };
  constexpr std::uint64_t MiB = 1u << 20;
  for (const Case& k : {Case{"gpt-day18", DType::bf16, 8, 0, 0, 8 * MiB},
                        Case{"gpt-day18", DType::f32, 62, 3, 0, 4 * MiB},
                        Case{"gpt-day18", DType::f32, 33, 0, 32 * MiB, 128 * MiB},
                        Case{"gpt2-355m", DType::f32, 1, 0, 0, 4 * MiB}}) {
    SCOPED_TRACE(std::string(k.config) + " batch " + std::to_string(k.batch) + " recompute " +
                 std::to_string(k.recompute));
    const ModelConfig config = load_config(k.config);
    MemoryQuery q;
    q.dtype = k.dtype;
    q.batch = k.batch;
    q.seq = 256;
    q.recompute = k.recompute;
    q.reserve = kDefaultReserve;
    const std::uint64_t vram = min_vram(config, q);
    EXPECT_EQ(vram % MiB, 0u);
    q.vram = vram;
    const MemoryResult at = simulate_memory(config, q);
    EXPECT_TRUE(at.fits);
    ASSERT_GE(vram, q.reserve + at.peak);
    EXPECT_GE(vram - q.reserve - at.peak, k.min_gap);
    EXPECT_LT(vram - q.reserve - at.peak, k.max_gap);
    q.vram = vram - MiB;
    EXPECT_FALSE(simulate_memory(config, q).fits);
  }
}

// Recompute levels move the peak by what they stop keeping.
TEST(MemoryPrediction, RecomputeLowersThePeakOfDay18) {
  MemoryQuery q;
  q.dtype = DType::bf16;
  q.batch = 8;
  q.seq = 256;
  std::uint64_t previous = ~0ull;
  for (int level = 0; level <= 3; ++level) {
    q.recompute = level;
    const MemoryResult r = simulate_memory(load_config("gpt-day18"), q);
    std::printf("gpt-day18 bf16 B=8 T=256 recompute %d: peak %s at '%s'\n", level,
                format_bytes(r.peak).c_str(), r.peak_at.c_str());
    EXPECT_LT(r.peak, previous);
    previous = r.peak;
  }
}

// Parameters, gradients, m and v (or SGD's momentum) and master weights in the simulated step
// are what the registry implies: each trainable tensor's elements times its dtype's bytes,
// rounded up to the arena's 256-byte alignment, counted once however often it is tied.
TEST(MemoryPrediction, PersistentBytesAreWhatTheRegistryImplies) {
  for (const char* name : {"gpt-day18", "gpt2-124m"}) {
    for (DType dtype : {DType::f32, DType::bf16, DType::f16}) {
      for (OptimizerKind opt : {OptimizerKind::adamw, OptimizerKind::sgd}) {
        SCOPED_TRACE(std::string(name) + " " + dtype_name(dtype) + " " + optimizer_name(opt));
        const ModelConfig config = load_config(name);
        auto arena = Arena::create(Device::meta(), 1ull << 40);
        const auto model = build_model(config, arena, dtype);
        std::uint64_t weights = 0, f32_copies = 0, elements = 0;
        for (const auto& p : model->named_parameters()) {
          ASSERT_TRUE(p.trainable) << p.name;
          const auto n = static_cast<std::uint64_t>(p.tensor.numel());
          weights += align_up(n * dtype_size(dtype));
          f32_copies += align_up(n * 4);
          elements += n;
        }
        EXPECT_EQ(elements, static_cast<std::uint64_t>(model->parameter_count()));
        MemoryQuery q;
        q.dtype = dtype;
        q.optimizer = opt;
        q.batch = 1;
        q.seq = 8;
        const MemoryResult r = simulate_memory(config, q);
        const auto at = [&](Category c) { return r.at_peak[static_cast<int>(c)]; };
        EXPECT_EQ(at(Category::parameter), weights);
        EXPECT_EQ(at(Category::gradient), weights);
        EXPECT_EQ(at(Category::optimizer_state),
                  (opt == OptimizerKind::adamw ? 2 : 1) * f32_copies);
        EXPECT_EQ(at(Category::master_weight), dtype == DType::f32 ? 0 : f32_copies);
        // Alignment costs at most 255 bytes per tensor.
        EXPECT_LT(at(Category::parameter) - elements * dtype_size(dtype),
                  kArenaAlignment * model->named_parameters().size());
      }
    }
  }
}

// "End of step" is what the next step starts from: a training loop keeps its gradients, optimizer
// states and master weights; generation keeps the filled KV cache; activations are gone.
TEST(MemoryPrediction, EndOfStepHoldsWhatTheNextStepReuses) {
  MemoryQuery q;
  q.dtype = DType::bf16;
  q.batch = 2;
  q.seq = 16;
  const MemoryResult train = simulate_memory(load_config("gpt-day18-tiny"), q);
  for (Category c : {Category::parameter, Category::gradient, Category::optimizer_state,
                     Category::master_weight}) {
    SCOPED_TRACE(category_name(c));
    EXPECT_GT(train.at_end[static_cast<int>(c)], 0u);
    EXPECT_EQ(train.at_end[static_cast<int>(c)], train.at_peak[static_cast<int>(c)]);
  }
  EXPECT_EQ(train.at_end[static_cast<int>(Category::activation)], 0u);
  EXPECT_GT(train.at_peak[static_cast<int>(Category::activation)], 0u);

  q.mode = MemoryMode::generate;
  q.optimizer = OptimizerKind::none;
  const MemoryResult infer = simulate_memory(load_config("gpt-day18-tiny"), q);
  const int kv = static_cast<int>(Category::kv_cache);
  EXPECT_GT(infer.at_end[kv], 0u);
  EXPECT_EQ(infer.at_end[kv], infer.at_peak[kv]);
  EXPECT_EQ(infer.at_end[static_cast<int>(Category::gradient)], 0u);
  EXPECT_EQ(infer.at_end[static_cast<int>(Category::activation)], 0u);
}

// Without --seq the step runs at the longest sequence the model takes: RoBERTa's 514 position
// rows hold 512 tokens.
TEST(MemoryPrediction, DefaultSequenceIsTheModelsLongest) {
  MemoryQuery q;
  q.mode = MemoryMode::generate;
  q.optimizer = OptimizerKind::none;
  const ModelConfig c = load_config("roberta-tiny");
  const MemoryResult whole = simulate_memory(c, q);
  q.seq = c.max_sequence();
  EXPECT_EQ(whole.peak, simulate_memory(c, q).peak);
  q.seq = c.max_sequence() + 1;
  EXPECT_THROW(simulate_memory(c, q), Error);
}

TEST(MemoryPrediction, MaxBatchIsTheEdgeOfFitting) {
  MemoryQuery q;
  q.dtype = DType::bf16;
  q.seq = 256;
  const ModelConfig c = load_config("gpt-day18");
  const std::int64_t b = max_batch(c, q);
  ASSERT_GT(b, 0);
  q.batch = b;
  EXPECT_TRUE(simulate_memory(c, q).fits);
  q.batch = b + 1;
  EXPECT_FALSE(simulate_memory(c, q).fits);
}

// The bound `memory` answers with beyond kMaxExactTokens never exceeds the real peak, in every
// mode and family, and its parts are what the model holds: the parameters as the registry
// counts them, and one B x T x C embedding output.
TEST(MemoryBound, NeverAboveTheSimulatedPeak) {
  for (const char* name : {"gpt2-tiny", "gpt-day18-tiny", "roberta-tiny"}) {
    const ModelConfig c = load_config(name);
    for (MemoryMode mode : {MemoryMode::train, MemoryMode::forward, MemoryMode::generate}) {
      if (mode == MemoryMode::train && !is_causal_lm(c)) continue;
      for (DType dtype : {DType::f32, DType::bf16})
        for (std::int64_t batch : {1, 3, 64}) {
          MemoryQuery q;
          q.mode = mode;
          q.dtype = dtype;
          q.batch = batch;
          q.seq = std::min<std::int64_t>(7, c.max_sequence());
          q.vram = 1ull << 40;
          const PeakBound b = peak_lower_bound(c, q);
          const MemoryResult r = simulate_memory(c, q);
          SCOPED_TRACE(std::string(name) + " " + memory_mode_name(mode) + " " + dtype_name(dtype) +
                       " B=" + std::to_string(batch));
          EXPECT_LE(b.total, r.peak);
          EXPECT_EQ(b.parameters, parameter_bytes(c, dtype));
          EXPECT_EQ(b.parameters, r.at_end[static_cast<int>(Category::parameter)]);
          const std::int64_t rows =
              mode == MemoryMode::generate && is_causal_lm(c) ? q.seq - 1 : q.seq;
          EXPECT_EQ(b.embedding, align_up(static_cast<std::uint64_t>(batch * rows * c.n_embd) *
                                          dtype_size(dtype)));
        }
    }
  }
}

// Far past any card (2^38 sequences of 2^10 tokens of 2^16 values: 2^64 * 2^2 bytes) the bound
// saturates instead of wrapping to a small number that would "fit".
TEST(MemoryBound, SaturatesInsteadOfWrapping) {
  ModelConfig c = load_config("gpt2-tiny");
  c.n_embd = 1 << 16;
  c.n_head = 1;
  c.max_positions = 1 << 10;
  MemoryQuery q;
  q.batch = std::int64_t{1} << 38;
  q.seq = 1 << 10;
  EXPECT_EQ(peak_lower_bound(c, q).total, ~std::uint64_t{0});
}

// `train` checks its step before it allocates: the plan it accepts is simulate_memory's, and a
// budget one byte under that peak, a bound above it, too many ids or too long a sequence are
// refused with one line naming the shortfall.
TEST(TrainPlan, RefusesWhatWouldNotFitBeforeAllocating) {
  const ModelConfig c = load_config("gpt2-tiny");
  TrainPlanInput in;
  in.config_arg = "gpt2-tiny";
  in.query.batch = 4;
  in.query.seq = 16;
  in.budget = 1ull << 30;
  in.physical = 1ull << 40;
  MemoryQuery same = in.query;
  same.vram = in.budget;
  same.reserve = 0;
  const MemoryResult plan = check_train_plan(c, in);
  EXPECT_EQ(plan.peak, simulate_memory(c, same).peak);
  const auto message = [&](const TrainPlanInput& x) {
    try {
      check_train_plan(c, x);
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
      return std::string(e.what());
    }
    return std::string();
  };
  // The smallest arena it fits (whole MiB; fragmentation may ask for more than the peak) is
  // accepted, one MiB less refused, naming the arena and the command with the details.
  TrainPlanInput tight = in;
  tight.budget = min_vram(c, same);
  EXPECT_EQ(message(tight), "");
  tight.budget -= 1 << 20;
  const std::string refused = message(tight);
  EXPECT_NE(refused.find(format_bytes(tight.budget) + " arena on cpu"), std::string::npos)
      << refused;
  EXPECT_NE(refused.find("see `cugpt memory gpt2-tiny --mode train --batch 4 --seq 16 --dtype f32 "
                         "--optimizer adamw --recompute 0 --vram " +
                         std::to_string(tight.budget) + "B --reserve 0`"),
            std::string::npos)
      << refused;
  tight.budget = plan.peak / 2;  // live bytes above the arena: the shortfall is named
  EXPECT_NE(message(tight).find(format_bytes(plan.peak - tight.budget) + " more than the"),
            std::string::npos)
      << message(tight);
  TrainPlanInput huge = in;
  huge.query.batch = std::int64_t{1} << 30;
  EXPECT_NE(message(huge).find("needs at least"), std::string::npos) << message(huge);
  TrainPlanInput ids = in;
  ids.budget = 1ull << 50;
  ids.query.batch = 1 << 20;
  ids.physical = 64ull << 20;  // 16 Mi tokens of ids and targets: 128 MiB
  EXPECT_NE(message(ids).find("the token ids of one micro-batch"), std::string::npos)
      << message(ids);
  TrainPlanInput longer = in;
  longer.query.seq = c.max_positions + 1;
  EXPECT_NE(message(longer).find("is longer than the 24 positions"), std::string::npos);
}

// With a GPU, the cuda arena measures what meta predicted: generation with the decode step on
// the host, and on the device captured as a graph (what the graph holds included).
TEST(CudaMemory, CudaArenaEqualsPrediction) {
  std::string reason;
  if (cuda_device_count(&reason) == 0) GTEST_SKIP() << reason;
  for (const auto d : {GenerateOptions::Decode::host, GenerateOptions::Decode::graph,
                       GenerateOptions::Decode::fused}) {
    MemoryQuery q;
    q.mode = MemoryMode::generate;
    q.decode = d;
    q.optimizer = OptimizerKind::none;
    q.dtype = DType::bf16;
    q.batch = 2;
    q.seq = 64;
    const MemoryResult predicted = simulate_memory(load_config("gpt2-124m"), q);
    q.device = Device::cuda(0);
    SCOPED_TRACE(decode_name(d));
    expect_same(predicted, simulate_memory(load_config("gpt2-124m"), q));
  }
}

struct Claim {
  std::string config, mode, dtype, optimizer, vram, expect;
  std::int64_t batch = 0, seq = 0;
  int recompute = 0;
  int line = 0;
  bool well_formed = false;  // nine fields, the numeric ones numbers, then only key=value ones
  std::string offload = "none", host;  // offload=MODE host=SIZE (optional)
};

const std::string kSuiteDir = std::string(CUGPT_SOURCE_DIR) + "/configs";

std::vector<Claim> parse_suite(std::istream& in) {
  std::vector<Claim> claims;
  std::string text;
  for (int line = 1; std::getline(in, text); ++line) {
    const auto first = text.find_first_not_of(" \t\r");
    if (first == std::string::npos || text[first] == '#') continue;
    std::istringstream is(text);
    Claim c;
    c.line = line;
    is >> c.config >> c.mode >> c.dtype >> c.optimizer >> c.batch >> c.seq >> c.recompute >>
        c.vram >> c.expect;
    c.well_formed = static_cast<bool>(is);
    // Optional fields after the nine: offload=none|optimizer|optimizer+gradients, host=SIZE (the
    // host's memory for the offload; expect then means the card and the host).
    for (std::string extra; c.well_formed && is >> extra;) {
      if (extra.rfind("offload=", 0) == 0)
        c.offload = extra.substr(8);
      else if (extra.rfind("host=", 0) == 0)
        c.host = extra.substr(5);
      else
        c.well_formed = false;
    }
    // A config path (not a bundled name) is relative to the suite's own directory.
    if (c.config.find('/') != std::string::npos && c.config[0] != '/')
      c.config = kSuiteDir + "/" + c.config;
    claims.push_back(c);
  }
  return claims;
}

std::vector<Claim> read_suite() {
  std::ifstream in(kSuiteDir + "/memory-suite.txt");
  return parse_suite(in);
}

MemoryQuery query_for(const Claim& c) {
  MemoryQuery q;
  q.mode = parse_memory_mode(c.mode);
  q.dtype = parse_dtype(c.dtype);
  q.optimizer = parse_optimizer(c.optimizer);
  q.batch = c.batch;
  q.seq = c.seq;
  q.recompute = c.recompute;
  q.vram = parse_bytes(c.vram);
  q.reserve = kDefaultReserve;
  q.offload = parse_offload(c.offload);
  if (!c.host.empty()) q.host_ram = parse_bytes(c.host);
  if (q.offload != OffloadMode::none && c.host.empty())
    throw Error("an offload claim needs host=SIZE (the host's memory)");
  return q;
}

// The suite is read when the test runs, not when it is built, so a line a user adds is checked
// by the next `ctest -L memory` without a rebuild.
TEST(MemorySuite, EveryClaimHolds) {
  const std::vector<Claim> claims = read_suite();
  ASSERT_GE(claims.size(), 10u) << "configs/memory-suite.txt is missing or nearly empty";
  for (const Claim& c : claims) {
    const std::string where = "configs/memory-suite.txt line " + std::to_string(c.line);
    if (!c.well_formed) {
      ADD_FAILURE() << where
                    << ": expected nine fields: config mode dtype optimizer batch seq recompute "
                       "vram expect (then optionally offload=MODE host=SIZE)";
      continue;
    }
    if (c.expect != "fits" && c.expect != "no") {
      ADD_FAILURE() << where << ": '" << c.expect << "' (expected fits or no)";
      continue;
    }
    try {
      const MemoryResult r = simulate_memory(load_config(c.config), query_for(c));
      EXPECT_EQ(r.fits, c.expect == "fits")
          << where << ": peak " << format_bytes(r.peak) << " for " << format_bytes(r.available);
      std::printf("%s: %s %s %s B=%lld T=%lld recompute %d: %s (peak %s of %s)", where.c_str(),
                  c.config.c_str(), c.mode.c_str(), c.dtype.c_str(),
                  static_cast<long long>(c.batch), static_cast<long long>(c.seq), c.recompute,
                  r.fits ? "fits" : "does not fit", format_bytes(r.peak).c_str(),
                  format_bytes(r.available).c_str());
      if (c.offload != "none")
        std::printf(" offload %s: host %s of %s", c.offload.c_str(),
                    format_bytes(r.host_peak).c_str(), format_bytes(r.host_available).c_str());
      std::printf("\n");
    } catch (const Error& e) {
      ADD_FAILURE() << where << ": " << e.what();
    }
  }
}

// The reader: comments and blank lines skipped, a line with a field missing, extra or not a
// number marked malformed (EveryClaimHolds then fails naming it), a config path made relative to
// configs/.
TEST(MemorySuiteFile, MalformedLinesAreCaught) {
  std::istringstream text(
      "# comment\n"
      "\n"
      "   \t\n"
      "gpt-day18 train bf16 adamw 8 256 0 4GiB fits\n"
      "gpt-day18 train bf16 adamw 8 256 0 4GiB\n"
      "gpt-day18 train bf16 adamw eight 256 0 4GiB fits\n"
      "gpt-day18 train bf16 adamw 8 256 0 4GiB fits extra\n"
      "mine/my-model.json infer f32 none 1 64 0 4GiB fits\n"
      "gpt2-355m train bf16 adamw 4 1024 3 4GiB fits offload=optimizer host=24GiB\n");
  const std::vector<Claim> claims = parse_suite(text);
  ASSERT_EQ(claims.size(), 6u);
  EXPECT_TRUE(claims[5].well_formed);
  EXPECT_EQ(claims[5].offload, "optimizer");
  EXPECT_EQ(claims[5].host, "24GiB");
  EXPECT_EQ(claims[0].line, 4);
  EXPECT_TRUE(claims[0].well_formed);
  EXPECT_FALSE(claims[1].well_formed);
  EXPECT_FALSE(claims[2].well_formed);
  EXPECT_FALSE(claims[3].well_formed);
  EXPECT_TRUE(claims[4].well_formed);
  EXPECT_EQ(claims[4].config, kSuiteDir + "/mine/my-model.json");
  EXPECT_EQ(claims[0].config, "gpt-day18");
}

// Every claim, run for real on the card in an arena of what the claim's card leaves (vram -
// reserve), as the meta prediction was. One that fits must run, reach the same statistics byte
// for byte, and the driver's count of used memory must be that arena plus what the process
// holds outside it (context, cuBLAS), within 2% — no allocation escapes the arena. One that does
// not fit must run out at the same operation, asking for the same bytes.
TEST(CudaMemory, SuiteClaimsHoldOnTheDevice) {
  std::string reason;
  if (cuda_device_count(&reason) == 0) GTEST_SKIP() << reason;
  // Bring up the context and the GEMM libraries with a tiny run first; what the process holds
  // then, with no arena alive, is the measured reserve.
  MemoryQuery warm;
  warm.batch = 2, warm.seq = 8, warm.device = Device::cuda(0), warm.arena_budget = 64ull << 20;
  simulate_memory(load_config("gpt2-tiny"), warm);
  const std::uint64_t reserve = cuda_used_bytes();
  std::printf("measured reserve on %s: %s (the default --reserve is %s)\n",
              cuda_probe(0).name.c_str(), format_bytes(reserve).c_str(),
              format_bytes(kDefaultReserve).c_str());
  for (const Claim& c : read_suite()) {
    if (!c.well_formed) continue;
    SCOPED_TRACE("configs/memory-suite.txt line " + std::to_string(c.line));
    const ModelConfig config = load_config(c.config);
    MemoryQuery q = query_for(c);
    const MemoryResult predicted = simulate_memory(config, q);
    q.device = Device::cuda(0);
    q.arena_budget = predicted.available;
    if (c.expect == "no") {
      expect_runs_out_as_predicted(config, q, predicted);
      continue;
    }
    const MemoryResult measured = simulate_memory(config, q);
    expect_same(predicted, measured);
    const double expected = static_cast<double>(predicted.available + reserve);
    const double driver = static_cast<double>(measured.driver_used);
    EXPECT_LE(std::fabs(driver - expected), 0.02 * expected)
        << "driver " << format_bytes(measured.driver_used) << ", arena "
        << format_bytes(predicted.available) << " + reserve " << format_bytes(reserve);
    std::printf("line %d %s: peak %s in an arena of %s; driver %s\n", c.line, c.config.c_str(),
                format_bytes(predicted.peak).c_str(), format_bytes(predicted.available).c_str(),
                format_bytes(measured.driver_used).c_str());
  }
}

}  // namespace
}  // namespace cugpt
