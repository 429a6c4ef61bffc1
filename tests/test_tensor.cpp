#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "nn/ops.h"
#include "nn/tensor.h"

namespace cugpt {
namespace {

std::shared_ptr<Arena> cpu_arena() {
  return Arena::create(Device::cpu(), 16ull << 20);
}

TEST(Shape, PrintsAndCountsLikePyTorch) {
  const Shape s{52000, 768};
  EXPECT_EQ(s.str(), "[52000, 768]");
  EXPECT_EQ(s.numel(), 39936000);
  EXPECT_EQ(s[-1], 768);
  EXPECT_EQ(Shape{}.numel(), 1);  // a scalar
  EXPECT_THROW((Shape{1, 2, 3, 4, 5}), Error);
  EXPECT_THROW((Shape{3, -1}), Error);
  EXPECT_THROW(s[2], Error);
}

TEST(Tensor, ReleasesItsBlockWithTheLastReference) {
  auto arena = cpu_arena();
  {
    Tensor a = Tensor::empty(arena, {3, 5}, DType::f32, Category::activation);
    EXPECT_EQ(a.nbytes(), 60u);
    EXPECT_EQ(a.allocated_bytes(), 256u);
    Tensor b = a;  // shares the block
    EXPECT_TRUE(b.shares_storage(a));
    EXPECT_EQ(arena->stats().live_blocks, 1u);
    a = Tensor();
    EXPECT_EQ(arena->in_use(), 256u);
  }
  EXPECT_EQ(arena->in_use(), 0u);
  EXPECT_EQ(arena->stats().live_blocks, 0u);
}

TEST(Tensor, RoundTripsThroughHostInEveryDtype) {
  auto arena = cpu_arena();
  const std::vector<float> values{1.0f, -2.5f, 0.333333f, 1024.0f, -0.0078125f};
  for (DType t : {DType::f32, DType::f16, DType::bf16, DType::f64}) {
    Tensor x = Tensor::empty(arena, {5}, t, Category::parameter);
    x.copy_from_floats(values);
    const std::vector<float> back = x.to_floats();
    const float tol = t == DType::bf16 ? 4e-3f : t == DType::f16 ? 5e-4f : 1e-7f;
    for (std::size_t i = 0; i < values.size(); ++i)
      EXPECT_NEAR(back[i], values[i], tol * std::fabs(values[i])) << dtype_name(t) << " " << i;
  }
  EXPECT_EQ(arena->in_use(), 0u);
}

TEST(Tensor, FillAndZero) {
  auto arena = cpu_arena();
  for (DType t : {DType::f32, DType::f16, DType::bf16, DType::f64}) {
    Tensor x = Tensor::empty(arena, {7, 3}, t, Category::activation);
    x.fill(-1.5);
    for (float v : x.to_floats()) ASSERT_EQ(v, -1.5f) << dtype_name(t);
    x.zero();
    for (float v : x.to_floats()) ASSERT_EQ(v, 0.0f) << dtype_name(t);
  }
  Tensor z = Tensor::zeros(arena, {4}, DType::f32, Category::activation);
  for (float v : z.to_floats()) EXPECT_EQ(v, 0.0f);
}

TEST(Tensor, TypedAccessChecksTheDtype) {
  auto arena = cpu_arena();
  Tensor x = Tensor::empty(arena, {2, 2}, DType::f32, Category::activation);
  x.data_as<float>()[3] = 4.0f;
  EXPECT_EQ(x.to_floats()[3], 4.0f);
  EXPECT_THROW(x.data_as<double>(), Error);
  EXPECT_THROW(x.copy_from_host(nullptr, 3), Error);
  EXPECT_THROW(x.copy_from_floats({1.0f}), Error);
}

TEST(Tensor, ViewSharesStorage) {
  auto arena = cpu_arena();
  Tensor x = Tensor::empty(arena, {2, 6}, DType::f32, Category::activation);
  x.copy_from_floats({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  Tensor v = x.view({3, 4});
  EXPECT_EQ(v.shape(), (Shape{3, 4}));
  EXPECT_TRUE(v.shares_storage(x));
  EXPECT_EQ(v.to_floats()[7], 7.0f);
  EXPECT_THROW(x.view({5}), Error);
  Tensor y = Tensor::empty(arena, {2, 6}, DType::f32, Category::activation);
  y.copy_from(x);
  EXPECT_EQ(y.to_floats()[11], 11.0f);
  EXPECT_THROW(y.copy_from(v), Error);
}

// ops::rows copies a range of rows out of (N, C) and write_rows puts rows back; a range outside
// the tensor is a one-line error, and on meta both only account the bytes.
TEST(Tensor, RowsOutAndBack) {
  auto arena = Arena::create(Device::cpu(), 1 << 20);
  Tensor x = Tensor::empty(arena, {2, 3, 4}, DType::f32, Category::activation);
  std::vector<float> v(24);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  x.copy_from_floats(v);
  const Tensor r = ops::rows(x, 2, 3);  // rows 2..4 of the 6 rows of 4
  EXPECT_EQ(r.shape(), Shape({3, 4}));
  EXPECT_EQ(r.to_floats(), std::vector<float>(v.begin() + 8, v.begin() + 20));
  Tensor y = Tensor::zeros(arena, {6, 4}, DType::f32, Category::activation);
  ops::write_rows(y, 3, r);
  std::vector<float> want(24, 0.f);
  std::copy(v.begin() + 8, v.begin() + 20, want.begin() + 12);
  EXPECT_EQ(y.to_floats(), want);
  EXPECT_THROW(ops::rows(x, 4, 3), Error);
  EXPECT_THROW(ops::write_rows(y, 4, r), Error);
  auto meta = Arena::create(Device::meta(), 1 << 20);
  const Tensor m = Tensor::empty(meta, {6, 4}, DType::bf16, Category::activation);
  EXPECT_EQ(ops::rows(m, 1, 5).nbytes(), 5u * 4 * 2);
}

TEST(Tensor, MetaTensorsAccountBytesButHoldNoData) {
  auto arena = Arena::create(Device::meta(), 1ull << 40);
  // gpt2-1558m's embedding, 1 TiB budget: nothing is allocated for real.
  Tensor big = Tensor::empty(arena, {50257, 1600}, DType::f32, Category::parameter);
  EXPECT_EQ(arena->in_use(), align_up(50257ull * 1600 * 4));
  EXPECT_EQ(big.device(), Device::meta());
  EXPECT_THROW(big.data(), Error);
  EXPECT_THROW(big.fill(1.0), Error);
  EXPECT_THROW(big.to_floats(), Error);
  try {
    big.data();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("meta device"), std::string::npos);
  }
  Tensor z = Tensor::zeros(arena, {8}, DType::bf16, Category::activation);  // no data touched
  EXPECT_EQ(z.allocated_bytes(), 256u);
}

TEST(Tensor, UndefinedTensorErrors) {
  Tensor t;
  EXPECT_FALSE(t.defined());
  EXPECT_THROW(t.data(), Error);
  EXPECT_THROW(t.device(), Error);
  EXPECT_EQ(t.allocated_bytes(), 0u);
}

TEST(Tensor, OutOfMemoryLeavesTheArenaUsable) {
  auto arena = Arena::create(Device::cpu(), 1 << 20);
  Tensor a = Tensor::empty(arena, {200000}, DType::f32, Category::parameter);
  EXPECT_THROW(Tensor::empty(arena, {100000}, DType::f32, Category::activation), OutOfMemory);
  EXPECT_EQ(arena->stats().live_blocks, 1u);
  a = Tensor();
  EXPECT_NO_THROW(Tensor::empty(arena, {200000}, DType::f32, Category::activation));
}

}  // namespace
}  // namespace cugpt
