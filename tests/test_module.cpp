#include <gtest/gtest.h>

#include "nn/module.h"

namespace cugpt {
namespace {

// A two-level model with a tied output weight, built by hand for the registry tests.
struct Leaf : Module {
  Leaf(const std::shared_ptr<Arena>& a, std::int64_t out, std::int64_t in) {
    register_parameter("weight", Tensor::zeros(a, {out, in}, DType::f32, Category::parameter));
    register_parameter("bias", Tensor::zeros(a, {out}, DType::f32, Category::parameter));
  }
  std::string type_name() const override { return "Leaf"; }
};

struct Toy : Module {
  Leaf first, second;
  Leaf head;
  Toy(const std::shared_ptr<Arena>& a) : first(a, 8, 4), second(a, 8, 8), head(a, 1, 1) {
    register_parameter("embedding", Tensor::zeros(a, {10, 4}, DType::f32, Category::parameter));
    register_module("first", first);
    register_module("second", second);
    // Tied like GPT-2's lm_head: the same tensor under a second name.
    head_weight = own_parameters()[0].second;
    register_parameter("scale", Tensor::zeros(a, {3}, DType::f32, Category::parameter), false);
    register_module("head", head);
  }
  Tensor head_weight;
};

struct Tied : Module {
  Tied(const Tensor& shared) { register_parameter("weight", shared); }
};

TEST(Registry, PyTorchOrderAndDotNames) {
  auto arena = Arena::create(Device::meta(), 1 << 20);
  Toy toy(arena);
  const auto params = toy.named_parameters();
  std::vector<std::string> names;
  for (const auto& p : params) names.push_back(p.name);
  // Own parameters first (in registration order), then each child's, depth first.
  EXPECT_EQ(names,
            (std::vector<std::string>{"embedding", "scale", "first.weight", "first.bias",
                                      "second.weight", "second.bias", "head.weight", "head.bias"}));
  EXPECT_EQ(params[0].tensor.shape().str(), "[10, 4]");
  EXPECT_EQ(toy.find_module("second"), &toy.second);
  EXPECT_EQ(toy.find_module("second.nothing"), nullptr);
}

TEST(Registry, CountsTrainableAndTotal) {
  auto arena = Arena::create(Device::meta(), 1 << 20);
  Toy toy(arena);
  EXPECT_EQ(toy.parameter_count(), 40 + 3 + 32 + 8 + 64 + 8 + 1 + 1);
  EXPECT_EQ(toy.trainable_count(), toy.parameter_count() - 3);
}

TEST(Registry, TiedTensorsAreListedAndCountedOnce) {
  auto arena = Arena::create(Device::meta(), 1 << 20);
  Leaf leaf(arena, 5, 7);
  Tied tied(leaf.own_parameters()[0].second);
  struct Both : Module {
  } both;
  both.register_module("leaf", leaf);
  both.register_module("tied", tied);
  EXPECT_EQ(both.named_parameters().size(), 2u);
  EXPECT_EQ(both.parameter_count(), 35 + 5);
  const auto with_ties = both.named_parameters_with_ties();
  ASSERT_EQ(with_ties.size(), 3u);
  EXPECT_EQ(with_ties[2].first.name, "tied.weight");
  EXPECT_EQ(with_ties[2].second, "leaf.weight");
  EXPECT_TRUE(with_ties[0].second.empty());
}

TEST(Registry, BytesEqualTheArena) {
  auto arena = Arena::create(Device::cpu(), 1 << 20);
  {
    Toy toy(arena);
    const CategoryBytes reg = toy.bytes_by_category();
    EXPECT_EQ(reg, arena->stats().current);
    EXPECT_EQ(reg[static_cast<int>(Category::parameter)], 8u * 256);
  }
  EXPECT_EQ(arena->in_use(), 0u);  // the module's tensors went back with it
}

TEST(Registry, RejectsBadAndDuplicateNames) {
  auto arena = Arena::create(Device::meta(), 1 << 20);
  Leaf leaf(arena, 2, 2);
  Tensor t = Tensor::zeros(arena, {2}, DType::f32, Category::parameter);
  EXPECT_THROW(leaf.register_parameter("weight", t), Error);
  EXPECT_THROW(leaf.register_parameter("a.b", t), Error);
  EXPECT_THROW(leaf.register_parameter("", t), Error);
  EXPECT_THROW(leaf.register_parameter("undefined", Tensor()), Error);
  EXPECT_THROW(leaf.register_module("leaf", leaf), Error);
}

}  // namespace
}  // namespace cugpt
