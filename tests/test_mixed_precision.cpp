// Mixed precision without a GPU: the dynamic loss scaler's rules (2^16 to start, halve and skip
// on a non-finite gradient norm, double after 2000 applied steps), the optimizer that divides
// the scale out again (bit-identical to unscaled training in f32, since powers of two scale
// exactly), skipped steps counted, reported and checkpointed, and the f32 master weights of
// 16-bit parameters in their own arena category (on the meta device).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "models/factory.h"
#include "models/init.h"
#include "models/weights.h"
#include "train/trainer.h"

namespace cugpt {
namespace {

const double kInf = std::numeric_limits<double>::infinity();

TEST(LossScaler, StartsAt2To16AndHalvesOnOverflow) {
  DynamicLossScaler s;
  EXPECT_EQ(s.scale(), 65536.0);
  EXPECT_EQ(s.growth_interval(), 2000);
  EXPECT_FALSE(s.update(kInf));
  EXPECT_EQ(s.scale(), 32768.0);
  EXPECT_FALSE(s.update(std::nan("")));
  EXPECT_EQ(s.scale(), 16384.0);
  EXPECT_TRUE(s.update(3.5));
  EXPECT_EQ(s.scale(), 16384.0);
  EXPECT_EQ(s.good_steps(), 1);
}

TEST(LossScaler, DoublesAfterTheGrowthIntervalOfAppliedSteps) {
  DynamicLossScaler s(65536.0, 2000);
  for (int i = 0; i < 1999; ++i) ASSERT_TRUE(s.update(1.0));
  EXPECT_EQ(s.scale(), 65536.0);
  EXPECT_TRUE(s.update(1.0));
  EXPECT_EQ(s.scale(), 131072.0);
  EXPECT_EQ(s.good_steps(), 0);
  // An overflow restarts the count.
  for (int i = 0; i < 1000; ++i) s.update(1.0);
  EXPECT_FALSE(s.update(-kInf));
  EXPECT_EQ(s.scale(), 65536.0);
  for (int i = 0; i < 1999; ++i) s.update(1.0);
  EXPECT_EQ(s.scale(), 65536.0);
  s.update(1.0);
  EXPECT_EQ(s.scale(), 131072.0);
}

TEST(LossScaler, FloorRestoreAndBadArguments) {
  DynamicLossScaler s(1.0, 5);
  for (int i = 0; i < 40; ++i) s.update(kInf);
  EXPECT_EQ(s.scale(), DynamicLossScaler::kMinScale);
  s.restore(1024.0, 3);
  EXPECT_EQ(s.scale(), 1024.0);
  EXPECT_EQ(s.good_steps(), 3);
  s.update(1.0), s.update(1.0);
  EXPECT_EQ(s.scale(), 2048.0);
  EXPECT_THROW(DynamicLossScaler(0.0, 10), Error);
  EXPECT_THROW(DynamicLossScaler(1.0, 0), Error);
  EXPECT_THROW(s.restore(-1.0, 0), Error);
}

// 16-bit parameters get an f32 master copy each, in Category::master_weight; f32 ones none.
TEST(MixedPrecision, MasterWeightBytesAndAutomaticScaling) {
  for (DType t : {DType::f32, DType::bf16, DType::f16}) {
    SCOPED_TRACE(dtype_name(t));
    auto arena = Arena::create(Device::meta(), 1ull << 40);
    auto model = build_model(load_config("gpt-day18-tiny"), arena, t);
    const std::uint64_t params = arena->current(Category::parameter);
    std::uint64_t want = 0;
    std::size_t trainable = 0;
    for (const auto& p : model->named_parameters()) {
      if (!p.trainable) continue;
      want += (static_cast<std::uint64_t>(p.tensor.numel()) * 4 + kArenaAlignment - 1) /
              kArenaAlignment * kArenaAlignment;
      ++trainable;
    }
    Training tr = make_training(*model, OptimizerOptions{});
    const Optimizer& opt = tr.opt;
    const bool wide = t == DType::f32;
    EXPECT_EQ(arena->current(Category::master_weight), wide ? 0 : want);
    EXPECT_EQ(arena->current(Category::gradient), params);
    EXPECT_EQ(opt.master_weights().size(), wide ? 0 : trainable);
    std::size_t masters = 0;
    for (const auto& [name, tensor] : opt.named_state()) {
      if (name.rfind("optimizer.master.", 0) != 0) continue;
      ++masters;
      EXPECT_EQ(tensor.dtype(), DType::f32);
      EXPECT_EQ(tensor.category(), Category::master_weight);
    }
    EXPECT_EQ(masters, wide ? 0 : trainable);
    EXPECT_EQ(opt.loss_scaling(), t == DType::f16);  // automatic: f16 only
    EXPECT_EQ(opt.loss_scale(), t == DType::f16 ? 65536.0 : 1.0);
    OptimizerOptions forced;
    forced.loss_scaling = LossScaling::off;
    EXPECT_FALSE(make_training(*model, forced).opt.loss_scaling());
  }
}

struct Golden {
  std::shared_ptr<Arena> arena;
  std::unique_ptr<Gpt> model;
  Gpt& gpt() { return *model; }
};

Golden golden_model() {
  const std::string dir = std::string(CUGPT_SOURCE_DIR) + "/tests/data/golden/gpt2-tiny/";
  Golden g;
  g.arena = Arena::create(Device::cpu(), 256ull << 20);
  g.model = build_gpt(load_config("gpt2-tiny"), g.arena, DType::f32);
  LoadOptions lo;
  lo.convert_dtype = true;
  load_weights(*g.model, dir + "weights.safetensors", lo);
  return g;
}

std::pair<Batch, std::vector<std::int32_t>> golden_batch() {
  std::ifstream in(std::string(CUGPT_SOURCE_DIR) + "/tests/data/golden/gpt2-tiny/train_input.json");
  const auto j = nlohmann::json::parse(in);
  std::pair<Batch, std::vector<std::int32_t>> r;
  const auto rows = j.at("tokens").get<std::vector<std::vector<std::int32_t>>>();
  r.first.B = static_cast<std::int64_t>(rows.size());
  r.first.T = static_cast<std::int64_t>(rows[0].size());
  for (const auto& row : rows) r.first.tokens.insert(r.first.tokens.end(), row.begin(), row.end());
  for (const auto& row : j.at("targets").get<std::vector<std::vector<std::int32_t>>>())
    r.second.insert(r.second.end(), row.begin(), row.end());
  return r;
}

std::vector<std::vector<float>> weights_of(const Model& m) {
  std::vector<std::vector<float>> out;
  for (const auto& p : m.named_parameters()) out.push_back(p.tensor.to_floats());
  return out;
}

// In f32 a power-of-two loss scale multiplies every gradient exactly, so scaled training is
// unscaled training bit for bit; an injected overflow skips one step without touching the
// weights, halves the scale, and AdamW's bias correction counts only the applied steps.
TEST(MixedPrecision, DynamicScalingOnCpuIsExactAndSkipsOverflows) {
  const auto [batch, targets] = golden_batch();
  Golden scaled = golden_model(), plain = golden_model();
  OptimizerOptions o;
  o.lr = 1e-2;
  o.loss_scaling = LossScaling::dynamic;
  Training st = make_training(*scaled.model, o);
  Optimizer& so = st.opt;
  o.loss_scaling = LossScaling::off;
  Training pt = make_training(*plain.model, o);
  Optimizer& po = pt.opt;
  ASSERT_TRUE(so.loss_scaling());
  ASSERT_EQ(so.loss_scale(), 65536.0);
  ASSERT_EQ(po.loss_scale(), 1.0);

  // Named copies: a lambda may not capture structured bindings before C++20 (clang refuses).
  const Batch& b = batch;
  const std::vector<std::int32_t>& tg = targets;
  const auto step = [&](Golden& g, Training& t) {
    t.grads.zero();
    const double loss = g.gpt().forward_backward(b, tg, t.grads, 0, t.opt.loss_scale());
    return std::make_pair(loss, t.opt.step(t.grads, 1e-2));
  };
  const auto s1 = step(scaled, st), p1 = step(plain, pt);
  EXPECT_EQ(s1.first, p1.first);    // the loss is never scaled
  EXPECT_EQ(s1.second, p1.second);  // the norm is unscaled
  EXPECT_EQ(weights_of(*scaled.model), weights_of(*plain.model));
  EXPECT_FALSE(so.last_step_skipped());

  // An overflow: one gradient element becomes inf after the backward.
  const auto before = weights_of(*scaled.model);
  st.grads.zero();
  scaled.gpt().forward_backward(batch, targets, st.grads, 0, so.loss_scale());
  const auto first = scaled.model->named_parameters()[0].tensor;
  st.grads.of(first).data_as<float>()[3] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(std::isfinite(so.step(st.grads, 1e-2)));
  EXPECT_TRUE(so.last_step_skipped());
  EXPECT_EQ(so.skipped_steps(), 1);
  EXPECT_EQ(so.steps(), 2);
  EXPECT_EQ(so.loss_scale(), 32768.0);
  EXPECT_EQ(weights_of(*scaled.model), before);

  // The next applied step is AdamW's second: the same as the unscaled optimizer's second.
  step(scaled, st);
  step(plain, pt);
  EXPECT_EQ(weights_of(*scaled.model), weights_of(*plain.model));
  EXPECT_EQ(so.skipped_steps(), 1);
}

std::string byte_text() {
  std::string text;
  const char* words[] = {"the ", "cat ", "sat ", "on ", "a ", "mat ", "and ", "dog "};
  for (int i = 0; text.size() < 5000; ++i) text += words[(i * 7 + i / 3) % 8];
  return text;
}

// An overflowing step in the trainer: reported, counted, and carried through a checkpoint.
TEST(MixedPrecision, TrainerReportsAndCheckpointsSkippedSteps) {
  const std::string text = byte_text();
  const Dataset data = Dataset::from_tokens({text.begin(), text.end()}, 256);
  TrainOptions o;
  o.steps = 4, o.batch = 2, o.seq = 8, o.warmup = 1;
  o.optim.loss_scaling = LossScaling::dynamic;
  o.optim.loss_scale_init = std::ldexp(1.0, 200);  // past f32: the first backward overflows
  const std::string dir = ::testing::TempDir() + "cugpt-mixed-precision";
  {
    auto arena = Arena::create(Device::cpu(), 256ull << 20);
    auto model = build_gpt(load_config("gpt2-bytes-tiny"), arena, DType::f32);
    init_parameters(*model, 1);
    const auto before = weights_of(*model);
    Trainer t(*model, data, o);
    const StepReport r = t.step();
    EXPECT_TRUE(r.skipped);
    EXPECT_EQ(r.skipped_steps, 1);
    EXPECT_EQ(r.loss_scale, std::ldexp(1.0, 200));
    EXPECT_TRUE(std::isfinite(r.loss));
    EXPECT_EQ(r.step, 1);
    EXPECT_EQ(weights_of(*model), before);
    t.save(dir);
    const auto meta = SafetensorsFile::open(dir + "/optimizer.safetensors").metadata();
    EXPECT_EQ(meta.at("skipped_steps"), "1");
    EXPECT_EQ(std::stod(meta.at("loss_scale")), std::ldexp(1.0, 199));
  }
  auto arena = Arena::create(Device::cpu(), 256ull << 20);
  auto model = build_gpt(load_config("gpt2-bytes-tiny"), arena, DType::f32);
  Trainer t(*model, data, o);
  t.resume(dir);
  EXPECT_EQ(t.steps_done(), 1);
  EXPECT_EQ(t.optimizer().skipped_steps(), 1);
  EXPECT_EQ(t.optimizer().loss_scale(), std::ldexp(1.0, 199));
  std::filesystem::remove_all(dir);
}

// Without loss scaling nothing is skipped, whatever the norm: f32 and bf16 train as before.
TEST(MixedPrecision, F32TrainsWithoutAScaler) {
  const auto [batch, targets] = golden_batch();
  Golden g = golden_model();
  Training t = make_training(*g.model, OptimizerOptions{});
  Optimizer& opt = t.opt;
  EXPECT_FALSE(opt.loss_scaling());
  g.gpt().forward_backward(batch, targets, t.grads, 0, opt.loss_scale());
  EXPECT_TRUE(std::isfinite(opt.step(t.grads, 1e-3)));
  EXPECT_FALSE(opt.last_step_skipped());
  EXPECT_EQ(opt.skipped_steps(), 0);
}

}  // namespace
}  // namespace cugpt
