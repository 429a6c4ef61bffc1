// Any checkpoint on any device: load_weights converts a file in another floating dtype to the
// model's (the compute dtype), and says how many tensors it converted.
#include <gtest/gtest.h>

#include "io/safetensors.h"
#include "models/factory.h"
#include "models/init.h"
#include "models/weights.h"
#include "tests/temp_dir_test.h"

namespace cugpt {
namespace {

class WeightsTest : public TempDirTest {
 protected:
  std::shared_ptr<Arena> arena_ = Arena::create(Device::cpu(), 256ull << 20);
  ModelConfig config_ = load_config("gpt2-tiny");
  std::unique_ptr<Model> build(DType dtype) { return build_model(config_, arena_, dtype); }
};

// What a value stored in `dtype` reads back as: the model a half-precision file describes.
float rounded(float x, DType dtype) {
  return dtype == DType::bf16 ? bf16_bits_to_float(float_to_bf16_bits(x))
                              : f16_bits_to_float(float_to_f16_bits(x));
}

Batch some_tokens() {
  Batch b;
  b.B = 2;
  b.T = 5;
  b.tokens = {1, 2, 3, 4, 5, 50, 60, 70, 80, 100};
  return b;
}

class HalfCheckpointOnCpu : public WeightsTest, public ::testing::WithParamInterface<DType> {};

TEST_P(HalfCheckpointOnCpu, LoadsIntoTheF32ModelAsTheRoundedModel) {
  const DType half = GetParam();
  auto trained = build(DType::f32);
  init_parameters(*trained, 5);
  save_checkpoint(*trained, path("f32.safetensors"));
  // f32 -> half: what a GPU run does with an f32 file (the model computes in bf16 or f16).
  auto on_gpu = build(half);
  const LoadReport down = load_weights(*on_gpu, path("f32.safetensors"));
  const std::string down_key = std::string("F32 to ") + (half == DType::bf16 ? "BF16" : "F16");
  ASSERT_EQ(down.converted.size(), 1u);
  EXPECT_EQ(down.converted.at(down_key), 28);
  save_checkpoint(*on_gpu, path("half.safetensors"));

  // half -> f32: the cpu's model, holding exactly the half values widened.
  auto on_cpu = build(DType::f32);
  const LoadReport up = load_weights(*on_cpu, path("half.safetensors"));
  const std::string up_key = std::string(half == DType::bf16 ? "BF16" : "F16") + " to F32";
  ASSERT_EQ(up.converted.size(), 1u);
  EXPECT_EQ(up.converted.at(up_key), 28);
  EXPECT_EQ(up.loaded, 28);

  // The reference: the f32 model with every value rounded through the half type by hand.
  auto reference = build(DType::f32);
  const auto src = trained->named_parameters();
  const auto dst = reference->named_parameters();
  for (std::size_t i = 0; i < src.size(); ++i) {
    std::vector<float> v = src[i].tensor.to_floats();
    for (float& x : v) x = rounded(x, half);
    Tensor t = dst[i].tensor;  // shares the model's storage
    t.copy_from_floats(v);
  }
  const auto got = on_cpu->named_parameters();
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_EQ(got[i].tensor.to_floats(), dst[i].tensor.to_floats()) << got[i].name;
  EXPECT_EQ(on_cpu->forward(some_tokens()).to_floats(),
            reference->forward(some_tokens()).to_floats());
}

INSTANTIATE_TEST_SUITE_P(Halves, HalfCheckpointOnCpu, ::testing::Values(DType::bf16, DType::f16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST_F(WeightsTest, SameDtypeConvertsNothing) {
  auto m = build(DType::f32);
  init_parameters(*m, 1);
  save_checkpoint(*m, path("m.safetensors"));
  auto again = build(DType::f32);
  EXPECT_TRUE(load_weights(*again, path("m.safetensors")).converted.empty());
}

TEST_F(WeightsTest, F64FileLoadsIntoAnF32Model) {
  auto wide = build(DType::f64);
  init_parameters(*wide, 2);
  save_checkpoint(*wide, path("f64.safetensors"));
  auto m = build(DType::f32);
  EXPECT_EQ(load_weights(*m, path("f64.safetensors")).converted.at("F64 to F32"), 28);
  const std::vector<float> a = wide->named_parameters()[0].tensor.to_floats();
  EXPECT_EQ(m->named_parameters()[0].tensor.to_floats(), a);
}

TEST_F(WeightsTest, IntegerTensorsAreNeverConverted) {
  auto m = build(DType::f32);
  std::vector<std::pair<std::string, Tensor>> entries;
  for (const auto& p : m->named_parameters()) {
    Tensor t = Tensor::zeros(arena_, p.tensor.shape(), DType::i32, Category::workspace);
    entries.emplace_back(p.name, t);
  }
  save_safetensors(path("ints.safetensors"), entries);
  try {
    load_weights(*m, path("ints.safetensors"));
    FAIL() << "an i32 file loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("integer data is no model weight"), std::string::npos)
        << e.what();
  }
}

TEST(ComputeDtype, TheCpuComputesInF32OrF64) {
  EXPECT_NO_THROW(check_compute_dtype(Device::cpu(), DType::f32));
  EXPECT_NO_THROW(check_compute_dtype(Device::cpu(), DType::f64));
  EXPECT_THROW(check_compute_dtype(Device::cpu(), DType::bf16), Error);
  EXPECT_THROW(check_compute_dtype(Device::cpu(), DType::f16), Error);
  EXPECT_NO_THROW(check_compute_dtype(Device::meta(), DType::bf16));
  EXPECT_THROW(check_compute_dtype(Device::cpu(), DType::i32), Error);
  try {
    check_compute_dtype(Device::cpu(), DType::bf16);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("converted on load"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cugpt
