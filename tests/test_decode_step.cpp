// The decode step with no host in it (models/decode_step.h): ids and positions on the device,
// the KV cache written at the length the device holds, sampling into the step's own input. On
// the cpu it runs eagerly in both modes and must give the host path's tokens exactly (greedy and
// sampled, ragged prompts, stop ids); on a card the captured graph must give the eager step's
// and the host path's tokens, with the graph's buffers held by the arena.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "models/decode_step.h"
#include "models/factory.h"
#include "models/generate.h"
#include "models/weights.h"
#include "nn/hooks.h"
#include "tests/gpu_test.h"

namespace cugpt {
namespace {

using Decode = GenerateOptions::Decode;

std::unique_ptr<Gpt> tiny(const std::string& name, const std::shared_ptr<Arena>& arena,
                          DType dtype) {
  auto model = build_gpt(load_config(name), arena, dtype);
  LoadOptions lo;
  lo.convert_dtype = true;
  load_weights(
      *model, std::string(CUGPT_SOURCE_DIR) + "/tests/data/golden/" + name + "/weights.safetensors",
      lo);
  return model;
}

const std::vector<std::vector<std::int32_t>> kPrompts = {{1, 2, 3}, {5, 6, 7, 8, 9}, {40}};

// The options of each comparison: greedy, temperature with top-k, temperature with top-p.
std::vector<GenerateOptions> option_set() {
  std::vector<GenerateOptions> all;
  for (const double temperature : {0.0, 0.8, 3.0}) {
    GenerateOptions o;
    o.max_new = 11;
    o.temperature = temperature;
    o.top_k = temperature == 0.8 ? 20 : 0;
    o.top_p = temperature == 3.0 ? 0.9 : 1.0;
    o.seed = 11;
    o.stop_ids = {17};
    o.device_sampler = true;
    all.push_back(o);
  }
  return all;
}

// Runs the three paths; the device ones must give the host path's result.
void expect_same_tokens(const Gpt& model, const std::string& what) {
  for (GenerateOptions o : option_set()) {
    SCOPED_TRACE(what + ", temperature " + std::to_string(o.temperature));
    const GenerateResult host = generate(model, kPrompts, o);
    for (const Decode d : {Decode::device, Decode::graph, Decode::fused}) {
      const bool cuda = model.wte().weight().device().is_cuda();
      // On a card the fused LayerNorm keeps its row in f32: the tokens may part from the
      // unfused path's at a near tie, so there it is held to the logits instead (below).
      if (d == Decode::fused && cuda) continue;
      o.decode = d;
      const GenerateResult dev = generate(model, kPrompts, o);
      SCOPED_TRACE(decode_name(d));
      EXPECT_EQ(dev.tokens, host.tokens);
      EXPECT_EQ(dev.stopped_by, host.stopped_by);
      EXPECT_EQ(dev.new_tokens, host.new_tokens);
      EXPECT_GT(dev.decode_steps, 0);
      const bool graph = d != Decode::device && cuda;
      EXPECT_EQ(dev.graph_kernels > 0, graph) << dev.graph_kernels;
    }
  }
}

// A cache of t_max positions holding `rows` 3-token prompts (the first two 4 9 2 and 7 7 1).
KvCache prefilled(const Gpt& model, std::int64_t t_max, std::int64_t rows = 2) {
  Batch prompt;
  prompt.B = rows;
  prompt.T = 3;
  prompt.tokens = {4, 9, 2, 7, 7, 1};
  for (std::int64_t i = 6; i < 3 * rows; ++i) prompt.tokens.push_back(static_cast<int>(i % 50));
  KvCache cache = model.make_cache(rows, t_max);
  model.forward_cached(prompt, cache);
  return cache;
}

class DecodeStepFamilies : public ::testing::TestWithParam<const char*> {};

TEST_P(DecodeStepFamilies, CpuGivesTheHostPathsTokens) {
  auto arena = Arena::create(Device::cpu(), 256ull << 20);
  expect_same_tokens(*tiny(GetParam(), arena, DType::f32), GetParam());
}

INSTANTIATE_TEST_SUITE_P(Families, DecodeStepFamilies,
                         ::testing::Values("gpt-day18-tiny", "gpt2-tiny"));

// One prompt each, every row at the same position: the step alone, against forward_cached fed
// the same ids by the host (greedy).
TEST(DecodeStep, StepsEqualForwardCachedFedByTheHost) {
  auto arena = Arena::create(Device::cpu(), 256ull << 20);
  const auto model = tiny("gpt2-tiny", arena, DType::f32);
  const std::int64_t V = model->config().vocab_size;
  KvCache a = prefilled(*model, 10), b = prefilled(*model, 10);
  DeviceSampler sampler(model->wte().weight(), 2, V, SamplingOptions{}, {0, 0});
  DecodeStep step(*model, b, sampler, {3, 8}, DecodeStep::Mode::graph);
  std::vector<std::int32_t> fed = {3, 8};
  for (int n = 0; n < 5; ++n) {
    Batch one;
    one.B = 2;
    one.T = 1;
    one.tokens = fed;
    const std::vector<float> logits = model->forward_cached(one, a).to_floats();
    for (int r = 0; r < 2; ++r) {
      const float* row = logits.data() + r * V;
      fed[r] = static_cast<std::int32_t>(std::max_element(row, row + V) - row);
    }
    step.enqueue();
    EXPECT_EQ(step.next_ids(), fed) << "step " << n;
    EXPECT_EQ(b.length(), a.length());
  }
}

// Two rows' ids (or positions) on the model's device.
Tensor ids_on(const Gpt& model, const std::vector<std::int32_t>& v) {
  Tensor t = Tensor::empty(model.wte().weight().arena_ptr(), {static_cast<std::int64_t>(v.size())},
                           DType::i32, Category::workspace);
  t.copy_from_host(v.data(), v.size() * 4);
  return t;
}

// One step's logits, unfused and with the LayerNorms folded into the products.
std::pair<std::vector<float>, std::vector<float>> step_logits(const Gpt& model,
                                                              std::int64_t rows = 2) {
  KvCache a = prefilled(model, 8, rows), b = prefilled(model, 8, rows);
  std::vector<std::int32_t> ids = {3, 8};
  ids.resize(static_cast<std::size_t>(rows), 5);
  const Tensor tokens = ids_on(model, ids);
  const Tensor positions = ids_on(model, std::vector<std::int32_t>(ids.size(), 3));
  return {model.forward_step(tokens, positions, a).to_floats(),
          model.forward_step(tokens, positions, b, true).to_floats()};
}

// On the cpu ln_linear runs the unfused path's kernels: the same bits, with rows in one pass of
// the fused kernel and with more (6: each fused op's unfused branch).
TEST(DecodeStep, FusedStepIsTheUnfusedOneOnTheCpu) {
  auto arena = Arena::create(Device::cpu(), 256ull << 20);
  for (const char* name : {"gpt2-tiny", "gpt-day18-tiny"}) {
    const auto model = tiny(name, arena, DType::f32);
    for (const std::int64_t rows : {2, 6}) {
      const auto [plain, fused] = step_logits(*model, rows);
      ASSERT_EQ(plain.size(), static_cast<std::size_t>(rows * model->config().vocab_size));
      EXPECT_EQ(plain, fused) << name << " " << rows << " rows";
    }
  }
}

// A fused greedy step picks with the head (ops::ln_linear_argmax, no logits stored): its ids
// are, step after step, the argmax of the fused step's own logits (lowest id on a tie), in both
// modes. A sampling step keeps the logits and the sampler.
void expect_fused_greedy_follows_its_logits(const Gpt& model) {
  const std::int64_t V = model.config().vocab_size;
  for (const auto mode : {DecodeStep::Mode::eager, DecodeStep::Mode::graph}) {
    KvCache a = prefilled(model, 10), b = prefilled(model, 10);
    DeviceSampler sampler(model.wte().weight(), 2, V, SamplingOptions{}, {0, 0});
    DecodeStep step(model, b, sampler, {3, 8}, mode, true);
    ASSERT_TRUE(step.fused_greedy());
    std::vector<std::int32_t> fed = {3, 8};
    for (int n = 0; n < 5; ++n) {
      const auto pos = static_cast<std::int32_t>(a.length());
      const std::vector<float> logits =
          model.forward_step(ids_on(model, fed), ids_on(model, {pos, pos}), a, true).to_floats();
      for (int r = 0; r < 2; ++r) {
        const float* row = logits.data() + r * V;
        fed[r] = static_cast<std::int32_t>(std::max_element(row, row + V) - row);
      }
      step.enqueue();
      EXPECT_EQ(step.next_ids(), fed) << "step " << n;
    }
  }
  SamplingOptions warm;
  warm.temperature = 0.8;
  KvCache c = prefilled(model, 10);
  DeviceSampler sampled(model.wte().weight(), 2, V, warm, {1, 2});
  EXPECT_FALSE(DecodeStep(model, c, sampled, {3, 8}, DecodeStep::Mode::eager, true).fused_greedy());
}

TEST(DecodeStep, FusedGreedyFollowsItsLogits) {
  auto arena = Arena::create(Device::cpu(), 256ull << 20);
  for (const char* name : {"gpt2-tiny", "gpt-day18-tiny"}) {
    SCOPED_TRACE(name);
    expect_fused_greedy_follows_its_logits(*tiny(name, arena, DType::f32));
  }
}

TEST(DecodeStep, RefusesMoreThanItsSlotsAndAFullCache) {
  auto arena = Arena::create(Device::cpu(), 256ull << 20);
  const auto model = tiny("gpt2-tiny", arena, DType::f32);
  Batch prompt;
  prompt.B = 1;
  prompt.T = 2;
  prompt.tokens = {4, 9};
  KvCache cache = model->make_cache(1, 2 + DecodeStep::kSlots + 1);
  model->forward_cached(prompt, cache);
  DeviceSampler sampler(model->wte().weight(), 1, model->config().vocab_size, SamplingOptions{},
                        {0});
  DecodeStep step(*model, cache, sampler, {5}, DecodeStep::Mode::eager);
  EXPECT_THROW(step.next_ids(), Error);
  for (int n = 0; n < DecodeStep::kSlots; ++n) step.enqueue();
  EXPECT_THROW(step.enqueue(), Error);  // every slot waits to be read
  EXPECT_EQ(step.next_ids().size(), 1u);
  step.enqueue();  // the last position the cache holds
  try {
    step.next_ids();
    step.enqueue();
    FAIL() << "a step past the cache ran";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the cache holds"), std::string::npos) << e.what();
  }
  EXPECT_THROW(DecodeStep(*model, cache, sampler, {1, 2}, DecodeStep::Mode::eager), Error);
  Hooks hooks;
  model->attach_hooks(&hooks);
  try {
    DecodeStep(*model, cache, sampler, {5}, DecodeStep::Mode::graph, true);
    FAIL() << "a step ran with hooks attached";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("hooks"), std::string::npos) << e.what();
  }
}

TEST(DecodeStep, ModeNamesParse) {
  EXPECT_EQ(parse_decode("graph"), Decode::graph);
  EXPECT_STREQ(decode_name(Decode::device), "device");
  EXPECT_THROW(parse_decode("cuda-graph"), Error);
}

// On a card: the captured graph gives the eager step's and the host path's tokens (f32 and
// bf16, both families), counts its kernels, and the arena holds the graph's buffers while the
// step lives (a block allocated after the capture lies outside them: replays keep writing there).
class CudaDecodeStep : public testing::CudaTest {};

TEST_F(CudaDecodeStep, GraphGivesTheHostPathsTokens) {
  for (const char* name : {"gpt2-tiny", "gpt-day18-tiny"})
    for (const DType dtype : {DType::f32, DType::bf16}) {
      auto arena = Arena::create(Device::cuda(0), 256ull << 20);
      expect_same_tokens(*tiny(name, arena, dtype), std::string(name) + " " + dtype_name(dtype));
    }
}

// The fused kernel keeps the normalised row in f32: the logits move by about the dtype's
// rounding against the unfused step's (f32 1e-4, bf16 3e-2 of the largest logit).
// With 6 rows (over one pass) the fused ops take their unfused branches but keep the residual
// adds in the GEMMs.
TEST_F(CudaDecodeStep, FusedLogitsMatchTheUnfusedStep) {
  for (const char* name : {"gpt2-tiny", "gpt-day18-tiny"})
    for (const DType dtype : {DType::f32, DType::bf16})
      for (const std::int64_t rows : {2, 6}) {
        auto arena = Arena::create(Device::cuda(0), 256ull << 20);
        const auto [plain, fused] = step_logits(*tiny(name, arena, dtype), rows);
        ASSERT_EQ(plain.size(), fused.size());
        double worst = 0, scale = 0;
        for (std::size_t i = 0; i < plain.size(); ++i) {
          worst = std::max(worst, std::fabs(double(plain[i]) - fused[i]));
          scale = std::max(scale, std::fabs(double(plain[i])));
        }
        EXPECT_LE(worst / scale, dtype == DType::f32 ? 1e-4 : 3e-2)
            << name << " " << dtype_name(dtype) << " " << rows << " rows";
      }
}

TEST_F(CudaDecodeStep, FusedGreedyFollowsItsLogits) {
  for (const char* name : {"gpt2-tiny", "gpt-day18-tiny"})
    for (const DType dtype : {DType::f32, DType::bf16}) {
      SCOPED_TRACE(std::string(name) + " " + dtype_name(dtype));
      auto arena = Arena::create(Device::cuda(0), 256ull << 20);
      expect_fused_greedy_follows_its_logits(*tiny(name, arena, dtype));
    }
}

TEST_F(CudaDecodeStep, ArenaHoldsTheGraphsBuffers) {
  auto arena = Arena::create(Device::cuda(0), 256ull << 20);
  const auto model = tiny("gpt2-tiny", arena, DType::bf16);
  const std::int64_t V = model->config().vocab_size;
  KvCache c1 = prefilled(*model, 12), c2 = prefilled(*model, 12);
  DeviceSampler s1(model->wte().weight(), 2, V, SamplingOptions{}, {0, 0});
  DeviceSampler s2(model->wte().weight(), 2, V, SamplingOptions{}, {0, 0});
  std::vector<std::vector<std::int32_t>> eager;
  {
    DecodeStep step(*model, c1, s1, {3, 8}, DecodeStep::Mode::eager);
    for (int n = 0; n < 4; ++n) {
      step.enqueue();
      eager.push_back(step.next_ids());
    }
    EXPECT_EQ(step.kernels_per_step(), -1);
  }
  const std::uint64_t before = arena->stats().current[static_cast<int>(Category::workspace)];
  DecodeStep step(*model, c2, s2, {3, 8}, DecodeStep::Mode::graph);
  step.enqueue();
  EXPECT_GT(step.kernels_per_step(), 5);
  EXPECT_GE(step.nodes_per_step(), step.kernels_per_step());
  EXPECT_GT(step.held_bytes(), 0u);
  EXPECT_GE(arena->stats().current[static_cast<int>(Category::workspace)],
            before + step.held_bytes());
  // Poison whatever is free now: a replay reading memory it does not hold would read NaN
  // logits, one writing there would be overwritten by the poison.
  std::vector<Tensor> hold;
  for (std::uint64_t n; (n = arena->stats().largest_free) > 0;) {
    hold.push_back(
        Tensor::empty(arena, {static_cast<std::int64_t>(n / 4)}, DType::f32, Category::workspace));
    hold.back().fill(NAN);
  }
  cuda_synchronize();
  EXPECT_EQ(step.next_ids(), eager[0]);
  for (int n = 1; n < 4; ++n) step.enqueue();
  for (int n = 1; n < 4; ++n) EXPECT_EQ(step.next_ids(), eager[static_cast<std::size_t>(n)]);
}

}  // namespace
}  // namespace cugpt
