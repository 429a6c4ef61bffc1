// Optimizer offload (train/offload.h): on the cpu device an offloaded step gives the bits of the
// step without it, for both modes, with accumulation and across a resume; 16-bit parameters
// through f32 masters update as without offload; meta predicts both arenas of a cpu run byte
// for byte; the card holds two blocks' gradients under optimizer+gradients.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>

#include "models/factory.h"
#include "models/init.h"
#include "tests/byte_text.h"
#include "tests/gpu_test.h"
#include "train/memory_plan.h"
#include "train/trainer.h"

namespace cugpt {
namespace {

// Every parameter's and every optimizer state's bytes, in order.
using Bits = std::vector<std::vector<unsigned char>>;

std::vector<unsigned char> bytes_of(const Tensor& t) {
  std::vector<unsigned char> b(t.nbytes());
  t.copy_to_host(b.data(), b.size());
  return b;
}

struct TrainRun {
  Bits bits;
  std::vector<bool> f32;  // per entry of bits: an f32 tensor
  std::vector<double> losses, norms;
  ArenaStats card, host;
};

// gpt2-bytes-tiny with five blocks: under optimizer+gradients the two slots are each reused.
ModelConfig five_blocks() {
  ModelConfig c = load_config("gpt2-bytes-tiny");
  c.n_layer = 5;
  return c;
}

// `steps` steps of five_blocks() (f32 on the cpu unless told), from `resume_dir` if given;
// saved to `save_dir` if given.
TrainRun train(OffloadMode mode, std::int64_t steps, std::int64_t accum,
               const std::string& save_dir = "", const std::string& resume_dir = "",
               Device device = Device::cpu(), DType dtype = DType::f32) {
  const std::string text = byte_text();
  const Dataset data = Dataset::from_tokens({text.begin(), text.end()}, 256);
  auto arena = Arena::create(device, 256ull << 20);
  auto model = build_gpt(five_blocks(), arena, dtype);
  init_parameters(*model, 1);
  TrainOptions o;
  o.steps = 6;
  o.batch = 3;
  o.seq = 16;
  o.accum = accum;
  o.warmup = 2;
  o.optim.lr = 1e-2;
  o.offload = mode;
  if (mode != OffloadMode::none) o.host_arena = Arena::create(Device::cpu(), 64ull << 20);
  Trainer t(*model, data, o);
  if (!resume_dir.empty()) t.resume(resume_dir);
  TrainRun r;
  while (t.steps_done() < steps) {
    const StepReport s = t.step();
    r.losses.push_back(s.loss);
    r.norms.push_back(s.grad_norm);
  }
  if (!save_dir.empty()) t.save(save_dir);
  for (const auto& p : model->named_parameters()) {
    r.bits.push_back(bytes_of(p.tensor));
    r.f32.push_back(p.tensor.dtype() == DType::f32);
  }
  for (const auto& [name, s] : t.optimizer().named_state()) {
    r.bits.push_back(bytes_of(s));
    r.f32.push_back(s.dtype() == DType::f32);
  }
  r.card = arena->stats();
  if (o.host_arena) r.host = o.host_arena->stats();
  return r;
}

TEST(Offload, OptimizerOffloadGivesTheBitsOfTheStepWithout) {
  const TrainRun plain = train(OffloadMode::none, 4, 1);
  const TrainRun off = train(OffloadMode::optimizer, 4, 1);
  EXPECT_EQ(plain.losses, off.losses);
  EXPECT_EQ(plain.norms, off.norms);
  EXPECT_EQ(plain.bits, off.bits);
  // The states left the card: only parameters, gradients and the step's transients there.
  EXPECT_EQ(off.card.current[static_cast<int>(Category::optimizer_state)], 0u);
  EXPECT_EQ(off.host.current[static_cast<int>(Category::optimizer_state)],
            plain.card.current[static_cast<int>(Category::optimizer_state)]);
}

TEST(Offload, OptimizerAndGradientOffloadGivesTheBitsOfTheStepWithout) {
  const TrainRun plain = train(OffloadMode::none, 4, 1);
  const TrainRun off = train(OffloadMode::optimizer_gradients, 4, 1);
  EXPECT_EQ(plain.losses, off.losses);
  EXPECT_EQ(plain.bits, off.bits);
  EXPECT_LT(off.card.current[static_cast<int>(Category::gradient)],
            plain.card.current[static_cast<int>(Category::gradient)]);
}

// With accumulation each micro-batch's gradients go to the host; the first is copied, the later
// ones added there (optimizer+gradients) or accumulated on the card as without offload.
TEST(Offload, AccumulatesMicroBatchesAsWithout) {
  const TrainRun plain = train(OffloadMode::none, 3, 3);
  const TrainRun opt = train(OffloadMode::optimizer, 3, 3);
  EXPECT_EQ(plain.bits, opt.bits);
  const TrainRun grads = train(OffloadMode::optimizer_gradients, 3, 3);
  ASSERT_EQ(plain.bits.size(), grads.bits.size());
  EXPECT_EQ(plain.losses[0], grads.losses[0]) << "the first step's loss comes before any update";
  // The card adds a micro-batch's gradient into the one before inside the backward's kernels,
  // the host adds two finished sums: the same terms, rounded in another order.
  double worst = 0;
  for (std::size_t i = 0; i < plain.bits.size(); ++i) {
    const auto* a = reinterpret_cast<const float*>(plain.bits[i].data());
    const auto* b = reinterpret_cast<const float*>(grads.bits[i].data());
    for (std::size_t k = 0; k < plain.bits[i].size() / 4; ++k)
      worst = std::max(worst, static_cast<double>(std::abs(a[k] - b[k])));
  }
  EXPECT_LT(worst, 1e-5);
}

TEST(Offload, ResumesBitIdentically) {
  const std::string dir = ::testing::TempDir() + "cugpt-offload-resume";
  std::filesystem::remove_all(dir);
  const TrainRun straight = train(OffloadMode::optimizer, 5, 1);
  train(OffloadMode::optimizer, 2, 1, dir);
  const TrainRun resumed = train(OffloadMode::optimizer, 5, 1, "", dir);
  EXPECT_EQ(straight.bits, resumed.bits);
  // A checkpoint is the same whichever way it was trained: one without offload resumes it.
  const TrainRun plain = train(OffloadMode::none, 5, 1, "", dir);
  EXPECT_EQ(straight.bits, plain.bits);
  std::filesystem::remove_all(dir);
}

// bf16 parameters with f32 master weights: the cpu cannot run the model in bf16, so the step
// is driven by hand: the same gradients, the update without offload (the cpu's 16-bit AdamW on
// the model's own tensors) and with it (the host copies, then back to the parameters).
TEST(Offload, Bf16ParametersThroughF32MastersMatchTheUpdateWithout) {
  const ModelConfig config = load_config("gpt2-bytes-tiny");
  const auto make = [&] {
    auto arena = Arena::create(Device::cpu(), 64ull << 20);
    auto model = build_gpt(config, arena, DType::bf16);
    init_parameters(*model, 3);
    return model;
  };
  const auto fill = [](Gradients& g, int step) {
    std::mt19937 rng(static_cast<unsigned>(step));
    std::normal_distribution<float> n(0.0f, 0.02f);
    for (const Tensor& t : g.tensors()) {
      std::vector<float> v(static_cast<std::size_t>(t.numel()));
      for (float& x : v) x = n(rng);
      Tensor(t).copy_from_floats(v);
    }
  };
  OptimizerOptions o;
  o.lr = 1e-2;
  auto plain = make();
  Training t = make_training(*plain, o);
  auto offloaded = make();
  auto host = Arena::create(Device::cpu(), 64ull << 20);
  Offload off(*offloaded, o.kind, OffloadMode::optimizer, host);
  Optimizer host_opt(off.host_parameters(), decay_flags(*offloaded), o, off.take_host_state());
  for (int step = 1; step <= 3; ++step) {
    fill(t.grads, step);
    const double a = t.opt.step(t.grads, o.lr);
    off.begin_step();
    fill(off.device_gradients(), step);
    for (std::size_t b = offloaded->blocks().size(); b-- > 0;) off.after_block(b, 0, 1);
    off.gradients_to_host();
    const double b = host_opt.step(off.host_gradients(), o.lr, 1.0,
                                   [&](std::size_t i) { off.parameter_updated(i); });
    off.end_step();
    EXPECT_EQ(a, b) << "step " << step;
  }
  const auto p = plain->named_parameters(), q = offloaded->named_parameters();
  ASSERT_EQ(p.size(), q.size());
  for (std::size_t i = 0; i < p.size(); ++i)
    EXPECT_EQ(bytes_of(p[i].tensor), bytes_of(q[i].tensor)) << p[i].name;
  const auto s = t.opt.named_state(), h = host_opt.named_state();
  ASSERT_EQ(s.size(), h.size());
  ASSERT_FALSE(t.opt.master_weights().empty());
  for (std::size_t i = 0; i < s.size(); ++i) {
    EXPECT_EQ(s[i].first, h[i].first);
    EXPECT_EQ(bytes_of(s[i].second), bytes_of(h[i].second)) << s[i].first;
  }
}

void expect_same_arenas(const MemoryResult& meta, const MemoryResult& cpu) {
  EXPECT_EQ(meta.peak, cpu.peak);
  EXPECT_EQ(meta.at_peak, cpu.at_peak);
  EXPECT_EQ(meta.at_end, cpu.at_end);
  EXPECT_EQ(meta.host_peak, cpu.host_peak);
  EXPECT_EQ(meta.host_at_peak, cpu.host_at_peak);
  EXPECT_EQ(meta.host_at_end, cpu.host_at_end);
  EXPECT_EQ(meta.bus_d2h, cpu.bus_d2h);
  EXPECT_EQ(meta.bus_h2d, cpu.bus_h2d);
}

TEST(Offload, MetaPredictsBothArenasOfACpuRunByteForByte) {
  for (const OffloadMode mode : {OffloadMode::optimizer, OffloadMode::optimizer_gradients}) {
    MemoryQuery q;
    q.batch = 2;
    q.seq = 16;
    q.recompute = 1;
    q.offload = mode;
    q.host_ram = 64ull << 20;
    const MemoryResult meta = simulate_memory(load_config("gpt2-tiny"), q);
    q.device = Device::cpu();
    q.arena_budget = 64ull << 20;
    const MemoryResult cpu = simulate_memory(load_config("gpt2-tiny"), q);
    SCOPED_TRACE(offload_name(mode));
    expect_same_arenas(meta, cpu);
    EXPECT_GT(meta.host_peak, 0u);
    EXPECT_GT(meta.bus_d2h, 0u);
  }
}

// What each mode leaves on the card and puts on the host, from the registry's counts: the
// gradients of every parameter (optimizer) or of the parameters outside the blocks and two
// blocks (optimizer+gradients); on the host 16 bytes per parameter in f32 (copy, gradient, m,
// v), 4 more (the master) per bf16 parameter of 2 + 2 bytes.
TEST(Offload, EachModeHoldsWhatItSays) {
  const ModelConfig config = load_config("gpt2-124m");
  auto arena = Arena::create(Device::meta(), 1ull << 40);
  auto gpt = build_gpt(config, arena, DType::bf16);
  std::uint64_t params = 0, block = 0;
  for (const Tensor& t : trainable_parameters(*gpt)) params += t.nbytes();
  for (const auto& p : gpt->blocks()[0].named_parameters()) block += align_up(p.tensor.nbytes());
  const std::uint64_t n = params / 2;  // bf16
  MemoryQuery q;
  q.dtype = DType::bf16;
  q.batch = 1;
  q.seq = 64;
  q.offload = OffloadMode::optimizer;
  const MemoryResult opt = simulate_memory(config, q);
  const auto at = [](const CategoryBytes& c, Category k) { return c[static_cast<int>(k)]; };
  EXPECT_EQ(at(opt.at_end, Category::optimizer_state), 0u);
  EXPECT_EQ(at(opt.at_end, Category::master_weight), 0u);
  EXPECT_NEAR(static_cast<double>(at(opt.at_end, Category::gradient)), params, params * 0.01);
  EXPECT_NEAR(static_cast<double>(at(opt.host_at_end, Category::optimizer_state)), 8.0 * n,
              n * 0.01);
  EXPECT_NEAR(static_cast<double>(at(opt.host_at_end, Category::master_weight)), 4.0 * n, n * 0.01);
  EXPECT_EQ(opt.bus_d2h, params);
  EXPECT_EQ(opt.bus_h2d, params);
  q.offload = OffloadMode::optimizer_gradients;
  const MemoryResult grads = simulate_memory(config, q);
  const std::uint64_t outside =
      at(opt.at_end, Category::gradient) - config.n_layer * block;  // embeddings, final LayerNorm
  EXPECT_EQ(at(grads.at_end, Category::gradient), outside + 2 * block);
  EXPECT_LT(grads.peak, opt.peak);
}

// On a card: the copies run on their own stream, ordered by events, from pinned host memory.
class CudaOffload : public testing::CudaTest {};

// The largest difference between two runs' tensors, relative to the largest value.
double worst_relative(const TrainRun& a, const TrainRun& b) {
  double worst = 0, scale = 1e-30;
  for (std::size_t i = 0; i < a.bits.size(); ++i) {
    if (a.bits[i].size() != b.bits[i].size()) return 1e30;
    // What is f32 (the states and masters of bf16 parameters) carries the update's every bit.
    if (!a.f32[i]) continue;
    const auto* x = reinterpret_cast<const float*>(a.bits[i].data());
    const auto* y = reinterpret_cast<const float*>(b.bits[i].data());
    for (std::size_t k = 0; k < a.bits[i].size() / 4; ++k) {
      worst = std::max(worst, static_cast<double>(std::fabs(x[k] - y[k])));
      scale = std::max(scale, static_cast<double>(std::fabs(y[k])));
    }
  }
  return worst / scale;
}

// f32 and bf16: the offloaded steps (the host's AdamW on the cpu) against the card's own AdamW,
// over a few steps, both modes; the losses before any update are equal, the weights and states
// within the mixed-precision tolerances of the cuda-vs-cpu training tests.
TEST_F(CudaOffload, MatchesTheCardsOwnAdamW) {
  for (const DType dtype : {DType::f32, DType::bf16}) {
    const TrainRun card = train(OffloadMode::none, 3, 2, "", "", Device::cuda(0), dtype);
    for (const OffloadMode mode : {OffloadMode::optimizer, OffloadMode::optimizer_gradients}) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + " " + offload_name(mode));
      const TrainRun off = train(mode, 3, 2, "", "", Device::cuda(0), dtype);
      EXPECT_EQ(card.losses[0], off.losses[0]);
      EXPECT_NEAR(card.losses.back(), off.losses.back(), 1e-3 * std::fabs(card.losses.back()));
      EXPECT_LT(worst_relative(off, card), dtype == DType::f32 ? 1e-5 : 1e-2);
      EXPECT_EQ(off.card.current[static_cast<int>(Category::optimizer_state)], 0u);
    }
  }
}

TEST_F(CudaOffload, MetaPredictsBothArenasOfACardRun) {
  for (const OffloadMode mode : {OffloadMode::optimizer, OffloadMode::optimizer_gradients}) {
    MemoryQuery q;
    q.dtype = DType::bf16;
    q.batch = 2;
    q.seq = 16;
    q.offload = mode;
    q.host_ram = 64ull << 20;
    const MemoryResult meta = simulate_memory(load_config("gpt2-tiny"), q);
    q.device = Device::cuda(0);
    q.arena_budget = 64ull << 20;
    SCOPED_TRACE(offload_name(mode));
    expect_same_arenas(meta, simulate_memory(load_config("gpt2-tiny"), q));
  }
}

}  // namespace
}  // namespace cugpt
