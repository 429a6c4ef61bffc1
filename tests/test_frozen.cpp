// Frozen parameters (Module::set_trainable): a frozen Linear weight has no gradient slot and no
// optimizer state, its backward skips dW, and what stays trainable gets the very gradient bits
// of the fully trainable model (issue 30, item 4: the base of LoRA's frozen weights).
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "models/factory.h"
#include "models/init.h"
#include "nn/gradients.h"
#include "nn/training_state.h"

namespace cugpt {
namespace {

// The blocks' matrices (every Linear weight inside a block) of a model.
std::set<std::string> block_matrices(const Module& model) {
  std::set<std::string> names;
  for (const auto& p : model.named_parameters()) {
    const bool in_block = p.name.rfind("transformer.h.", 0) == 0 || p.name.rfind("blocks.", 0) == 0;
    if (in_block && p.tensor.ndim() == 2) names.insert(p.name);
  }
  return names;
}

std::vector<char> bytes_of(const Tensor& t) {
  std::vector<char> b(t.nbytes());
  std::memcpy(b.data(), t.data(), b.size());
  return b;
}

TEST(Frozen, BlockMatricesHaveNoSlotAndTheRestKeepTheirGradientBits) {
  for (const char* name : {"gpt2-tiny", "gpt-day18-tiny"}) {
    SCOPED_TRACE(name);
    const ModelConfig config = load_config(name);
    auto arena = Arena::create(Device::cpu(), 256ull << 20);
    auto full = build_gpt(config, arena, DType::f32);
    auto part = build_gpt(config, arena, DType::f32);
    init_parameters(*full, 7);
    init_parameters(*part, 7);
    const std::set<std::string> frozen = block_matrices(*part);
    ASSERT_GE(frozen.size(), 8u);
    EXPECT_EQ(frozen.size(), part->set_trainable(
                                 [&](const std::string& n) { return frozen.count(n) > 0; }, false));
    std::int64_t frozen_count = 0;
    for (const auto& p : part->named_parameters()) {
      EXPECT_EQ(frozen.count(p.name) == 0, p.trainable) << p.name;
      if (!p.trainable) frozen_count += p.tensor.numel();
    }
    EXPECT_EQ(full->trainable_count() - frozen_count, part->trainable_count());

    Gradients gf(*full), gp(*part);
    EXPECT_EQ(gf.size(), gp.size() + frozen.size());
    Batch batch;
    batch.B = 2;
    batch.T = 5;
    batch.tokens = {1, 5, 9, 2, 7, 3, 3, 8, 0, 4};
    const std::vector<std::int32_t> targets = {5, 9, 2, 7, 1, 3, 8, 0, 4, 6};
    const double lf = full->forward_backward(batch, targets, gf);
    const double lp = part->forward_backward(batch, targets, gp);
    EXPECT_EQ(lf, lp);
    const auto full_params = full->named_parameters();
    std::size_t compared = 0;
    for (const auto& p : part->named_parameters()) {
      if (!p.trainable) {
        EXPECT_FALSE(gp.has(p.tensor)) << p.name;
        continue;
      }
      for (const auto& q : full_params)
        if (q.name == p.name) {
          EXPECT_TRUE(bytes_of(gp.of(p.tensor)) == bytes_of(gf.of(q.tensor)))
              << p.name << ": its gradient differs from the fully trainable model's";
          ++compared;
        }
    }
    EXPECT_EQ(gp.size(), compared);
  }
}

TEST(Frozen, TheirGradientsAndOptimizerStatesAreNotAllocated) {
  const ModelConfig config = load_config("gpt2-124m");
  std::uint64_t bytes[2][2] = {};  // [frozen?][gradient, optimizer_state]
  std::uint64_t frozen_bytes = 0;
  for (int freeze = 0; freeze < 2; ++freeze) {
    auto arena = Arena::create(Device::meta(), 1ull << 40);
    auto model = build_gpt(config, arena, DType::f32);
    if (freeze) {
      const std::set<std::string> frozen = block_matrices(*model);
      model->set_trainable([&](const std::string& n) { return frozen.count(n) > 0; }, false);
      for (const auto& p : model->named_parameters())
        if (!p.trainable) frozen_bytes += p.tensor.allocated_bytes();
    }
    const TrainingState state = allocate_training_state(*model, OptimizerKind::adamw);
    const auto& by = arena->stats().current;
    bytes[freeze][0] = by[static_cast<int>(Category::gradient)];
    bytes[freeze][1] = by[static_cast<int>(Category::optimizer_state)];
  }
  ASSERT_GT(frozen_bytes, 0u);
  // f32 parameters: one gradient of their size, AdamW's m and v of twice it.
  EXPECT_EQ(bytes[0][0] - frozen_bytes, bytes[1][0]);
  EXPECT_EQ(bytes[0][1] - 2 * frozen_bytes, bytes[1][1]);
}

}  // namespace
}  // namespace cugpt
