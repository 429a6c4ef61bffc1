// CPU logits against golden logits from PyTorch (scripts/make_golden.py), for the tiny config
// of each family with non-trivial random weights, LayerNorm weights included.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "io/npy.h"
#include "io/safetensors.h"
#include "models/factory.h"
#include "models/weights.h"
#include "tools/batch.h"

namespace cugpt {
namespace {

const std::string kGolden = std::string(CUGPT_SOURCE_DIR) + "/tests/data/golden/";

Batch golden_batch(const ModelConfig& config, const std::string& dir) {
  std::ifstream in(dir + "/input.json");
  const nlohmann::json j = nlohmann::json::parse(in);
  const auto rows = j.at("tokens").get<std::vector<std::vector<std::int32_t>>>();
  if (!j.contains("attention_mask")) return make_batch(config, rows);
  const auto mask = j.at("attention_mask").get<std::vector<std::vector<std::int32_t>>>();
  return make_batch(config, rows, &mask);
}

// max |a - b| / max |b|: the error relative to the logits' scale, which a per-element relative
// error would exaggerate near zero.
double scaled_error(const std::vector<float>& got, const std::vector<float>& want) {
  double max_diff = 0, max_ref = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(got[i]) - want[i]));
    max_ref = std::max(max_ref, std::fabs(static_cast<double>(want[i])));
  }
  return max_diff / max_ref;
}

std::vector<float> cpu_logits(const std::string& name, const std::string& weights,
                              Shape* shape = nullptr) {
  const ModelConfig config = load_config(name);
  auto arena = Arena::create(Device::cpu(), 256ull << 20);
  auto model = build_model(config, arena, DType::f32);
  const LoadReport report = load_weights(*model, weights);
  EXPECT_EQ(report.loaded, static_cast<int>(model->named_parameters().size()));
  const Tensor logits = model->forward(golden_batch(config, kGolden + name));
  if (shape) *shape = logits.shape();
  return logits.to_floats();
}

class Golden : public ::testing::TestWithParam<const char*> {};

TEST_P(Golden, CpuLogitsMatchPyTorch) {
  const std::string name = GetParam();
  const std::string dir = kGolden + name;
  const NpyArray want = read_npy(dir + "/logits.npy");
  Shape shape;
  const std::vector<float> got = cpu_logits(name, dir + "/weights.safetensors", &shape);
  ASSERT_EQ(shape.vec(), want.shape);
  const double err = scaled_error(got, want.as_floats());
  std::printf("%s: max |cugpt - torch| / max |torch| = %.3g\n", name.c_str(), err);
  EXPECT_LE(err, 1e-5) << name;
  EXPECT_GT(err, 0.0) << "bit-identical to a float64 reference is implausible in f32";
}

INSTANTIATE_TEST_SUITE_P(Families, Golden,
                         ::testing::Values("gpt-day18-tiny", "gpt2-tiny", "roberta-tiny"));

// A GPT-2 file saved from the bare transformer (no "transformer." prefix) loads the same.
TEST(GoldenGpt2, LoadsWithoutTheTransformerPrefix) {
  const std::string dir = kGolden + "gpt2-tiny";
  const SafetensorsFile file = SafetensorsFile::open(dir + "/weights.safetensors");
  auto arena = Arena::create(Device::cpu(), 64ull << 20);
  std::vector<std::pair<std::string, Tensor>> stripped;
  for (const auto& e : file.entries()) {
    Tensor t = Tensor::empty(arena, Shape(e.shape), e.dtype, Category::parameter);
    file.read(e, t.data(), t.nbytes());
    const std::string prefix = "transformer.";
    stripped.emplace_back(e.name.rfind(prefix, 0) == 0 ? e.name.substr(prefix.size()) : e.name, t);
  }
  const std::string path = ::testing::TempDir() + "gpt2-tiny-bare.safetensors";
  save_safetensors(path, stripped);
  const std::vector<float> bare = cpu_logits("gpt2-tiny", path);
  const std::vector<float> full = cpu_logits("gpt2-tiny", dir + "/weights.safetensors");
  EXPECT_EQ(bare, full);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace cugpt
