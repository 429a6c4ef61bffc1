// Whole models on the GPU against the cpu: the tiny config of each family with the golden
// weights, gpt2-124m-sized layers with random weights, and greedy generation. Skipped without
// a GPU.
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "models/factory.h"
#include "models/generate.h"
#include "models/init.h"
#include "models/weights.h"
#include "nn/hooks.h"
#include "tests/gpu_test.h"
#include "tools/batch.h"

namespace cugpt {
namespace {

using testing::close;

const std::string kGolden = std::string(CUGPT_SOURCE_DIR) + "/tests/data/golden/";

struct OnDevice {
  std::shared_ptr<Arena> arena;
  std::unique_ptr<Model> model;
  const Gpt* gpt = nullptr;  // the same model, for a causal LM
};

OnDevice load_on(Device d, DType t, const std::string& config, const std::string& weights) {
  OnDevice o;
  o.arena = Arena::create(d, d.is_cuda() ? 2ull << 30 : 4ull << 30);
  const ModelConfig c = load_config(config);
  if (is_causal_lm(c)) {
    auto gpt = build_gpt(c, o.arena, t);
    o.gpt = gpt.get();
    o.model = std::move(gpt);
  } else {
    o.model = build_model(c, o.arena, t);
  }
  LoadOptions lo;
  lo.convert_dtype = true;
  load_weights(*o.model, weights, lo);
  return o;
}

Batch golden_batch(const std::string& name) {
  std::ifstream in(kGolden + name + "/input.json");
  const auto j = nlohmann::json::parse(in);
  const auto rows = j.at("tokens").get<std::vector<std::vector<std::int32_t>>>();
  const ModelConfig c = load_config(name);
  if (!j.contains("attention_mask")) return make_batch(c, rows);
  const auto mask = j.at("attention_mask").get<std::vector<std::vector<std::int32_t>>>();
  return make_batch(c, rows, &mask);
}

class CudaModels : public testing::CudaTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(CudaModels, TinyModelLogitsMatchTheCpu) {
  const std::string name = GetParam();
  const std::string weights = kGolden + name + "/weights.safetensors";
  const Batch batch = golden_batch(name);
  const auto cpu = load_on(Device::cpu(), DType::f32, name, weights).model->forward(batch);
  const std::vector<float> want = cpu.to_floats();
  for (DType t : {DType::f32, DType::bf16, DType::f16}) {
    OnDevice gpu = load_on(Device::cuda(0), t, name, weights);
    const std::vector<float> got = gpu.model->forward(batch).to_floats();
    // 16-bit: every activation is rounded once per op, over a few layers.
    const double tol = t == DType::f32 ? 1e-5 : 5 * testing::tolerance(t);
    EXPECT_TRUE(close(got, want, tol)) << name << " " << dtype_name(t);
  }
}

// Captured on cuda, the attention maps (recomputed on the host from the layer's q and k) and
// the module outputs match the cpu capture, and say how they were obtained.
TEST_P(CudaModels, HooksCaptureTheSameAsTheCpu) {
  const std::string name = GetParam();
  const std::string weights = kGolden + name + "/weights.safetensors";
  const Batch batch = golden_batch(name);
  Hooks on_cpu, on_gpu;
  for (Hooks* h : {&on_cpu, &on_gpu}) {
    h->capture_outputs({"**"});
    h->capture_attention({"**"});
  }
  OnDevice cpu = load_on(Device::cpu(), DType::f32, name, weights);
  OnDevice gpu = load_on(Device::cuda(0), DType::f32, name, weights);
  cpu.model->attach_hooks(&on_cpu);
  gpu.model->attach_hooks(&on_gpu);
  cpu.model->forward(batch);
  gpu.model->forward(batch);
  ASSERT_EQ(on_cpu.captures().size(), on_gpu.captures().size());
  int maps = 0;
  for (std::size_t i = 0; i < on_cpu.captures().size(); ++i) {
    const Capture& c = on_cpu.captures()[i];
    const Capture& g = on_gpu.captures()[i];
    ASSERT_EQ(c.name, g.name);
    EXPECT_EQ(c.shape, g.shape) << c.name;
    EXPECT_TRUE(close(g.values, c.values, 1e-5)) << c.name;
    if (c.name.size() > 6 && c.name.substr(c.name.size() - 6) == ".probs") {
      ++maps;
      EXPECT_NE(g.note.find("recomputed"), std::string::npos) << g.note;
    }
  }
  EXPECT_EQ(maps, load_config(name).n_layer);
}

INSTANTIATE_TEST_SUITE_P(Families, CudaModels,
                         ::testing::Values("gpt-day18-tiny", "gpt2-tiny", "roberta-tiny"));

class CudaFullSize : public testing::CudaTest {};

TEST_F(CudaFullSize, Gpt2SmallLayersMatchTheCpu) {
  const std::string path = ::testing::TempDir() + "cugpt-gpt2-124m.safetensors";
  {
    auto arena = Arena::create(Device::cpu(), 2ull << 30);
    auto model = build_model(load_config("gpt2-124m"), arena, DType::f32);
    init_parameters(*model, 7);
    save_checkpoint(*model, path);
  }
  Batch batch;
  batch.B = 2;
  batch.T = 67;  // not a multiple of any tile
  for (int i = 0; i < 2 * 67; ++i) batch.tokens.push_back((i * 7919) % 50257);
  const std::vector<float> want =
      load_on(Device::cpu(), DType::f32, "gpt2-124m", path).model->forward(batch).to_floats();
  for (DType t : {DType::f32, DType::bf16}) {
    const std::vector<float> got =
        load_on(Device::cuda(0), t, "gpt2-124m", path).model->forward(batch).to_floats();
    EXPECT_TRUE(close(got, want, t == DType::f32 ? 1e-4 : 5e-2)) << dtype_name(t);
  }
  std::remove(path.c_str());
}

TEST_F(CudaFullSize, GreedyGenerationMatchesTheCpu) {
  const std::string weights = kGolden + "gpt2-tiny/weights.safetensors";
  GenerateOptions o;
  o.max_new = 12;
  Batch prompt;
  prompt.B = 2;
  prompt.T = 3;
  prompt.tokens = {1, 2, 3, 9, 8, 7};
  OnDevice cpu = load_on(Device::cpu(), DType::f32, "gpt2-tiny", weights);
  OnDevice gpu = load_on(Device::cuda(0), DType::f32, "gpt2-tiny", weights);
  EXPECT_EQ(generate(*cpu.gpt, prompt, o).tokens, generate(*gpu.gpt, prompt, o).tokens);
}

}  // namespace
}  // namespace cugpt
