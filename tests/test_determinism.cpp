// Determinism on cpu: the same seed gives bit-identical parameters, checkpoint bytes, logits,
// training losses and trained checkpoints, run twice in one process. tests/cli/
// test_robustness.sh checks the same across two processes; docs/robustness.md says what holds
// on the GPU.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "io/checkpoint.h"
#include "models/factory.h"
#include "models/init.h"
#include "train/memory_plan.h"
#include "train/trainer.h"

namespace cugpt {
namespace {

namespace fs = std::filesystem;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("cugpt_det_" + std::to_string(::getpid()) + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// The raw bytes of a tensor on cpu: equality of these is bit identity (NaN payloads, -0.0).
std::string raw(const Tensor& t) {
  std::string s(t.nbytes(), '\0');
  t.copy_to_host(s.data(), s.size());
  return s;
}

// The bytes of a freshly initialised model's checkpoint.
std::string init_bytes(const std::string& config, DType dtype, std::uint64_t seed,
                       const fs::path& dir) {
  auto arena = Arena::create(Device::cpu(), 64 << 20);
  auto model = build_model(load_config(config), arena, dtype);
  init_parameters(*model, seed);
  const std::string path = (dir / "init.safetensors").string();
  save_checkpoint(*model, path, {{"seed", std::to_string(seed)}});
  return read_all(path);
}

TEST(Determinism, SameSeedSameCheckpointBytes) {
  const fs::path dir = fresh_dir("init");
  for (const char* config : {"gpt2-tiny", "gpt-day18-tiny", "roberta-tiny"}) {
    for (const DType dtype : {DType::f32, DType::bf16}) {
      const std::string a = init_bytes(config, dtype, 7, dir);
      EXPECT_GT(a.size(), 1000u);
      EXPECT_EQ(a, init_bytes(config, dtype, 7, dir)) << config << " " << dtype_name(dtype);
      EXPECT_NE(a, init_bytes(config, dtype, 8, dir)) << "the seed changes nothing";
    }
  }
  fs::remove_all(dir);
}

TEST(Determinism, SameInputsSameLogitBits) {
  const fs::path dir = fresh_dir("logits");
  for (const char* config : {"gpt2-tiny", "gpt-day18-tiny", "roberta-tiny"}) {
    const ModelConfig c = load_config(config);
    auto arena = Arena::create(Device::cpu(), 64 << 20);
    auto model = build_model(c, arena, DType::f32);
    init_parameters(*model, 3);
    Batch b;
    b.B = 2;
    b.T = 9;
    for (std::int64_t i = 0; i < b.B * b.T; ++i)
      b.tokens.push_back(static_cast<std::int32_t>((i * 37 + 5) % c.vocab_size));
    const std::string first = raw(model->forward(b));
    EXPECT_EQ(first, raw(model->forward(b))) << config << ": two forwards of one model";

    // A second model loaded from the first one's checkpoint, in another arena.
    save_checkpoint(*model, (dir / "m.safetensors").string());
    auto arena2 = Arena::create(Device::cpu(), 64 << 20);
    auto loaded = build_model(c, arena2, DType::f32);
    load_checkpoint(*loaded, (dir / "m.safetensors").string());
    EXPECT_EQ(first, raw(loaded->forward(b))) << config << ": a model loaded from the file";
  }
  fs::remove_all(dir);
}

struct TrainRun {
  std::vector<double> losses, grad_norms;
  std::string model_bytes, optimizer_bytes;
};

TrainRun train(const Dataset& data, std::uint64_t seed, int recompute, const fs::path& dir) {
  auto arena = Arena::create(Device::cpu(), 256 << 20);
  auto model = build_gpt(load_config("gpt2-bytes-tiny"), arena, DType::f32);
  TrainOptions o;
  o.steps = 4;
  o.batch = 3;
  o.seq = 16;
  o.accum = 2;
  o.warmup = 1;
  o.seed = seed;
  o.recompute = recompute;
  init_parameters(*model, seed);
  Trainer t(*model, data, o);
  TrainRun r;
  while (t.steps_done() < o.steps) {
    const StepReport s = t.step();
    r.losses.push_back(s.loss);
    r.grad_norms.push_back(s.grad_norm);
  }
  t.save(dir.string());
  r.model_bytes = read_all((dir / "model.safetensors").string());
  r.optimizer_bytes = read_all((dir / "optimizer.safetensors").string());
  return r;
}

TEST(Determinism, SameSeedSameLossesAndTrainedCheckpoints) {
  std::string text;
  for (int i = 0; text.size() < 4000; ++i)
    text += "the quick brown fox " + std::to_string(i) + "\n";
  const Dataset data = Dataset::from_tokens({text.begin(), text.end()}, 256);
  const fs::path dir = fresh_dir("train");
  const TrainRun a = train(data, 11, 0, dir / "a");
  const TrainRun b = train(data, 11, 0, dir / "b");
  ASSERT_EQ(a.losses.size(), 4u);
  EXPECT_EQ(a.losses, b.losses);
  EXPECT_EQ(a.grad_norms, b.grad_norms);
  EXPECT_GT(a.model_bytes.size(), 10000u);
  EXPECT_TRUE(a.model_bytes == b.model_bytes) << "model.safetensors differs";
  EXPECT_TRUE(a.optimizer_bytes == b.optimizer_bytes) << "optimizer.safetensors differs";
  const TrainRun other = train(data, 12, 0, dir / "c");
  EXPECT_NE(a.losses, other.losses);
  // Recomputing activations in the backward pass gives the same bits as keeping them.
  const TrainRun recomputed = train(data, 11, 3, dir / "d");
  EXPECT_EQ(a.losses, recomputed.losses);
  EXPECT_TRUE(a.model_bytes == recomputed.model_bytes) << "recompute 3 changes the weights";
  fs::remove_all(dir);
}

TEST(Determinism, MetaPredictionsRepeat) {
  MemoryQuery q;
  q.batch = 4;
  q.seq = 128;
  const ModelConfig c = load_config("gpt-day18");
  const MemoryResult a = simulate_memory(c, q), b = simulate_memory(c, q);
  EXPECT_EQ(a.peak, b.peak);
  EXPECT_EQ(a.peak_at, b.peak_at);
  EXPECT_EQ(a.at_peak, b.at_peak);
  EXPECT_EQ(a.at_end, b.at_end);
}

}  // namespace
}  // namespace cugpt
