// Training on cpu: gradients against PyTorch autograd and finite differences, one AdamW step
// against torch.optim.AdamW, recompute levels, learning, and bit-identical resume.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "models/factory.h"
#include "models/init.h"
#include "models/weights.h"
#include "nn/ops_backward.h"
#include "tests/byte_text.h"
#include "train/trainer.h"

namespace cugpt {
namespace {

const std::string kGolden = std::string(CUGPT_SOURCE_DIR) + "/tests/data/golden/";

struct Trained {
  std::shared_ptr<Arena> arena;
  std::unique_ptr<Gpt> model;
  Gpt& gpt() { return *model; }
};

Trained golden_model(const std::string& name, DType dtype) {
  Trained s;
  s.arena = Arena::create(Device::cpu(), 256ull << 20);
  s.model = build_gpt(load_config(name), s.arena, dtype);
  LoadOptions lo;
  lo.convert_dtype = true;
  load_weights(*s.model, kGolden + name + "/weights.safetensors", lo);
  return s;
}

struct StepInput {
  Batch batch;
  std::vector<std::int32_t> targets;
  nlohmann::json hyper;
};

StepInput golden_input(const std::string& name) {
  std::ifstream in(kGolden + name + "/train_input.json");
  StepInput r;
  r.hyper = nlohmann::json::parse(in);
  const auto rows = r.hyper.at("tokens").get<std::vector<std::vector<std::int32_t>>>();
  r.batch.B = static_cast<std::int64_t>(rows.size());
  r.batch.T = static_cast<std::int64_t>(rows[0].size());
  for (const auto& row : rows) r.batch.tokens.insert(r.batch.tokens.end(), row.begin(), row.end());
  for (const auto& row : r.hyper.at("targets").get<std::vector<std::vector<std::int32_t>>>())
    r.targets.insert(r.targets.end(), row.begin(), row.end());
  return r;
}

OptimizerOptions adamw_from(const nlohmann::json& h) {
  OptimizerOptions o;
  o.lr = h.at("lr");
  o.beta1 = h.at("beta1");
  o.beta2 = h.at("beta2");
  o.eps = h.at("eps");
  o.weight_decay = h.at("weight_decay");
  o.clip = 0;
  return o;
}

// max |a - b| / max |b|
double scaled_error(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0, m = 1e-30;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d = std::max(d, std::fabs(static_cast<double>(a[i]) - b[i]));
    m = std::max(m, std::fabs(static_cast<double>(b[i])));
  }
  return d / m;
}

std::vector<float> read_entry(const SafetensorsFile& f, const std::string& name) {
  const SafetensorsEntry* e = f.find(name);
  EXPECT_NE(e, nullptr) << name;
  std::vector<float> v(static_cast<std::size_t>(e->numel()));
  f.read(*e, v.data(), v.size() * 4);
  return v;
}

class GoldenStep : public ::testing::TestWithParam<const char*> {};

TEST_P(GoldenStep, LossGradientsAndAdamwMatchPyTorch) {
  const std::string name = GetParam();
  Trained s = golden_model(name, DType::f64);
  const StepInput in = golden_input(name);
  const SafetensorsFile golden = SafetensorsFile::open(kGolden + name + "/train_step.safetensors");
  Training t = make_training(*s.model, adamw_from(in.hyper));
  Optimizer& opt = t.opt;

  const double loss = s.gpt().forward_backward(in.batch, in.targets, t.grads);
  EXPECT_NEAR(loss, read_entry(golden, "loss")[0], 1e-6 * std::fabs(loss));

  std::vector<std::string> decayed;
  for (const auto& p : s.model->named_parameters()) {
    EXPECT_LE(scaled_error(t.grads.of(p.tensor).to_floats(), read_entry(golden, "grad." + p.name)),
              1e-6)
        << p.name;
    if (opt.decays(p.tensor)) decayed.push_back(p.name);
  }
  std::sort(decayed.begin(), decayed.end());
  EXPECT_EQ(decayed, in.hyper.at("decayed").get<std::vector<std::string>>());

  opt.step(t.grads, in.hyper.at("lr").get<double>());
  for (const auto& p : s.model->named_parameters()) {
    const std::vector<float> got = p.tensor.to_floats();
    const std::vector<float> want = read_entry(golden, "updated." + p.name);
    double worst = 0;
    for (std::size_t i = 0; i < got.size(); ++i)
      worst = std::max(worst, std::fabs(static_cast<double>(got[i]) - want[i]));
    // The first Adam step moves each weight by about lr; f32 m, v and the f32-rounded golden
    // leave ~1e-6 of that.
    EXPECT_LE(worst, 1e-6) << p.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, GoldenStep, ::testing::Values("gpt-day18-tiny", "gpt2-tiny"));

// Central differences on a sample of elements of every parameter, in f64.
TEST(GradientCheck, WholeModelByFiniteDifferences) {
  for (const char* name : {"gpt-day18-tiny", "gpt2-tiny"}) {
    Trained s = golden_model(name, DType::f64);
    const StepInput in = golden_input(name);
    Gradients grads(*s.model);
    s.gpt().forward_backward(in.batch, in.targets, grads);
    const auto loss_at = [&] {
      return ops::cross_entropy_loss(s.model->forward(in.batch), in.targets, -1);
    };
    std::mt19937 rng(3);
    for (auto& p : s.model->named_parameters()) {
      const std::vector<float> grad = grads.of(p.tensor).to_floats();
      double* w = p.tensor.data_as<double>();
      for (int sample = 0; sample < 3; ++sample) {
        const std::size_t i = rng() % static_cast<std::size_t>(p.tensor.numel());
        const double saved = w[i], eps = 1e-5;
        w[i] = saved + eps;
        const double up = loss_at();
        w[i] = saved - eps;
        const double down = loss_at();
        w[i] = saved;
        const double numeric = (up - down) / (2 * eps);
        EXPECT_NEAR(grad[i], numeric, 1e-6 + 1e-5 * std::fabs(numeric))
            << name << " " << p.name << "[" << i << "]";
      }
    }
  }
}

// Recompute changes where the memory goes, never the gradients.
TEST(Recompute, SameGradientsLowerPeak) {
  const StepInput in = golden_input("gpt2-tiny");
  std::vector<std::vector<float>> reference;
  std::uint64_t previous_peak = ~0ull;
  for (int level = 0; level <= 3; ++level) {
    Trained s = golden_model("gpt2-tiny", DType::f64);
    Gradients grads(*s.model);
    s.arena->reset_peak();
    s.gpt().forward_backward(in.batch, in.targets, grads, level);
    const std::uint64_t peak = s.arena->stats().peak;
    std::printf("recompute %d: step peak %llu bytes\n", level,
                static_cast<unsigned long long>(peak));
    EXPECT_LT(peak, previous_peak) << "level " << level;
    previous_peak = peak;
    std::size_t k = 0;
    for (const auto& p : s.model->named_parameters()) {
      const std::vector<float> g = grads.of(p.tensor).to_floats();
      if (level == 0) {
        reference.push_back(g);
      } else {
        EXPECT_EQ(g, reference[k]) << "level " << level << " " << p.name;
      }
      ++k;
    }
  }
}

// The loss in chunks of rows is the loss in one piece: the same mean (each chunk divides by the
// batch's count, and a chunk whose targets are all ignored adds nothing) and the same gradients,
// up to the order of the head's weight-gradient sums; both heads (Day-18's own, GPT-2's tied).
TEST(ChunkedLoss, SameLossAndGradientsAsOnePiece) {
  for (const char* name : {"gpt-day18-tiny", "gpt2-tiny"}) {
    StepInput in = golden_input(name);
    for (int i = 0; i < 3; ++i) in.targets[static_cast<std::size_t>(i)] = -1;
    const auto N = static_cast<std::int64_t>(in.targets.size());
    double one_loss = 0;
    std::vector<std::vector<float>> one;
    for (std::int64_t rows : {N, std::int64_t{3}, std::int64_t{5}}) {
      SCOPED_TRACE(std::string(name) + ", " + std::to_string(rows) + " rows at a time");
      Trained s = golden_model(name, DType::f64);
      Gradients grads(*s.model);
      const double loss = s.gpt().forward_backward(in.batch, in.targets, grads, 0, 1.0, -1, rows);
      std::size_t k = 0;
      for (const auto& p : s.model->named_parameters()) {
        const std::vector<float> g = grads.of(p.tensor).to_floats();
        if (rows == N) {
          one.push_back(g);
        } else {
          EXPECT_LT(scaled_error(g, one[k]), 1e-6) << p.name;
        }
        ++k;
      }
      if (rows == N) one_loss = loss;
      EXPECT_NEAR(loss, one_loss, 1e-12 * std::fabs(one_loss));
      // The evaluation loss, chunked the same way, is the training step's.
      EXPECT_NEAR(s.gpt().loss(in.batch, in.targets, -1, rows), one_loss,
                  1e-12 * std::fabs(one_loss));
    }
  }
}

// In chunks the logits of the whole batch never exist: gpt-day18 at batch 8, T=256, bf16 peaks
// lower by about the logits' size less one chunk's.
TEST(ChunkedLoss, LowersThePeakByTheLogits) {
  const ModelConfig config = load_config("gpt-day18");
  Batch batch;
  batch.B = 8;
  batch.T = 256;
  batch.tokens.assign(static_cast<std::size_t>(batch.B * batch.T), 1);
  const std::vector<std::int32_t> targets(batch.tokens.size(), 2);
  std::uint64_t peaks[2];
  for (int chunked = 0; chunked < 2; ++chunked) {
    auto arena = Arena::create(Device::meta(), 1ull << 40);
    auto model = build_gpt(config, arena, DType::bf16);
    Gradients grads(*model);
    model->forward_backward(batch, targets, grads, 0, 1.0, -1, chunked ? 0 : batch.B * batch.T);
    peaks[chunked] = arena->stats().peak;
  }
  const std::uint64_t logits = static_cast<std::uint64_t>(batch.B * batch.T) *
                               static_cast<std::uint64_t>(config.vocab_size) * 2;
  EXPECT_LT(peaks[1], peaks[0]);
  EXPECT_GE(peaks[0] - peaks[1] + kLossChunkBytes, logits / 10 * 9);
}

TEST(Learning, ByteModelLearnsSmallText) {
  const std::string text = byte_text();
  const Dataset data = Dataset::from_tokens({text.begin(), text.end()}, 256);
  auto arena = Arena::create(Device::cpu(), 256ull << 20);
  auto model = build_gpt(load_config("gpt2-bytes-tiny"), arena, DType::f32);
  init_parameters(*model, 1);
  TrainOptions o;
  o.steps = 60;
  o.batch = 8;
  o.seq = 32;
  o.warmup = 5;
  o.optim.lr = 3e-3;
  Trainer trainer(*model, data, o);
  const double before = trainer.evaluate();
  while (trainer.steps_done() < o.steps) trainer.step();
  const double after = trainer.evaluate();
  std::printf("validation loss %.3f -> %.3f after %lld steps\n", before, after,
              static_cast<long long>(o.steps));
  EXPECT_GT(before, 5.0);  // ln 256 = 5.55 for an untrained byte model
  EXPECT_LT(after, 2.2);   // the word list has ~2.6 bits of entropy per character
}

TEST(Resume, ContinuesBitIdentically) {
  const std::string text = byte_text();
  const Dataset data = Dataset::from_tokens({text.begin(), text.end()}, 256);
  TrainOptions o;
  o.steps = 6;
  o.batch = 4;
  o.seq = 16;
  o.warmup = 2;
  const auto run = [&](int first, const std::string& dir, bool resume) {
    auto arena = Arena::create(Device::cpu(), 256ull << 20);
    auto model = build_gpt(load_config("gpt2-bytes-tiny"), arena, DType::f32);
    init_parameters(*model, 1);
    Trainer t(*model, data, o);
    if (resume) t.resume(dir);
    while (t.steps_done() < first) t.step();
    if (!dir.empty() && !resume) t.save(dir);
    std::vector<std::vector<float>> out;
    for (const auto& p : model->named_parameters()) out.push_back(p.tensor.to_floats());
    for (const auto& [n, st] : t.optimizer().named_state()) out.push_back(st.to_floats());
    return out;
  };
  const std::string dir = ::testing::TempDir() + "cugpt-resume";
  const auto straight = run(6, "", false);
  run(3, dir, false);
  const auto resumed = run(6, dir, true);
  EXPECT_EQ(straight, resumed);
  std::filesystem::remove_all(dir);
}

TEST(Training, RejectsBadTargetsAndMismatchedCheckpoints) {
  Trained s = golden_model("gpt2-tiny", DType::f32);
  const StepInput in = golden_input("gpt2-tiny");
  Gradients grads(*s.model);
  std::vector<std::int32_t> bad = in.targets;
  bad[4] = 101;
  EXPECT_THROW(s.gpt().forward_backward(in.batch, bad, grads), Error);
  EXPECT_THROW(s.gpt().forward_backward(in.batch, in.targets, grads, 4), Error);
}

}  // namespace
}  // namespace cugpt
