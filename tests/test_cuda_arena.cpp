// The CUDA arena on a real GPU. Every test skips, with the reason, where there is none.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/runtime.h"
#include "nn/tensor.h"

namespace cugpt {
namespace {

class CudaArena : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string reason;
    if (cuda_device_count(&reason) == 0) GTEST_SKIP() << reason;
  }
};

TEST_F(CudaArena, ProbeReportsTheDevice) {
  const CudaDeviceInfo d = cuda_probe(0);
  ASSERT_TRUE(d.available) << d.reason;
  EXPECT_FALSE(d.name.empty());
  EXPECT_GT(d.total_bytes, d.free_bytes / 2);
  EXPECT_GE(d.cc_major, 8);
  EXPECT_GT(d.sm_count, 0);
}

TEST_F(CudaArena, ReservesOnceAndHandsOutAlignedBlocks) {
  const std::size_t before = cuda_used_bytes();
  auto arena = Arena::create(Device::cuda(0), 256ull << 20);
  const std::size_t reserved = cuda_used_bytes() - before;
  EXPECT_GE(reserved, 256ull << 20);
  std::vector<Tensor> ts;
  for (int i = 0; i < 50; ++i)
    ts.push_back(Tensor::empty(arena, {1000 + i}, DType::f32, Category::activation));
  // Tensors come from the reservation: the driver sees no new allocation.
  EXPECT_EQ(cuda_used_bytes() - before, reserved);
  for (const auto& t : ts) EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data()) % 256, 0u);
}

TEST_F(CudaArena, HostRoundTripAndFillInEveryDtype) {
  auto arena = Arena::create(Device::cuda(0), 64ull << 20);
  std::vector<float> values(1237);
  for (std::size_t i = 0; i < values.size(); ++i)
    values[i] = 0.25f * static_cast<float>(i % 128) - 7;
  for (DType t : {DType::f32, DType::f16, DType::bf16}) {
    Tensor x = Tensor::empty(arena, {1237}, t, Category::parameter);
    x.copy_from_floats(values);
    EXPECT_EQ(x.to_floats(), values) << dtype_name(t);  // all exactly representable
    x.fill(3.5);
    for (float v : x.to_floats()) ASSERT_EQ(v, 3.5f) << dtype_name(t);
  }
  EXPECT_EQ(arena->in_use(), 0u);
}

TEST_F(CudaArena, StatisticsMatchMetaForTheSameSequence) {
  auto cuda = Arena::create(Device::cuda(0), 64ull << 20);
  auto meta = Arena::create(Device::meta(), 64ull << 20);
  for (auto& a : {cuda, meta}) {
    Tensor p = Tensor::empty(a, {3000, 7}, DType::bf16, Category::parameter);
    Tensor x = Tensor::empty(a, {11, 64}, DType::f32, Category::activation);
    x = Tensor();
    Tensor w = Tensor::empty(a, {513}, DType::f16, Category::workspace);
  }
  EXPECT_EQ(cuda->stats().peak, meta->stats().peak);
  EXPECT_EQ(cuda->stats().peak_by_category, meta->stats().peak_by_category);
}

}  // namespace
}  // namespace cugpt
