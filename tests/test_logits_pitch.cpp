// The padded logits (models/gpt.h, logits_pitch): rows of a pitch rounded up to a multiple of
// 64 give the same logits, losses and gradients as the compact layout, bit for bit on the cpu;
// only the first V columns are ever logits (forward, hooks, generation stay V wide where a user
// reads them); meta predicts the cpu's arena byte for byte; the arena pays exactly the padded
// bytes, and nothing for a vocabulary already a multiple of 64 (gpt-day18's 32000).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "models/factory.h"
#include "models/init.h"
#include "models/weights.h"
#include "nn/hooks.h"
#include "nn/timing.h"
#include "tests/gpu_test.h"

namespace cugpt {
namespace {

const std::string kGolden = std::string(CUGPT_SOURCE_DIR) + "/tests/data/golden/";

struct Loaded {
  std::shared_ptr<Arena> arena;
  std::unique_ptr<Gpt> model;
};

// The golden weights of a tiny model, logits rows padded to a multiple of `multiple`.
Loaded golden(const std::string& name, DType dtype, std::int64_t multiple) {
  Loaded l;
  l.arena = Arena::create(Device::cpu(), 64ull << 20);
  l.model = build_gpt(load_config(name), l.arena, dtype);
  l.model->set_logits_pitch_multiple(multiple);
  LoadOptions lo;
  lo.convert_dtype = true;
  load_weights(*l.model, kGolden + name + "/weights.safetensors", lo);
  return l;
}

Batch batch_of(std::int64_t B, std::int64_t T, std::int64_t V) {
  Batch b;
  b.B = B;
  b.T = T;
  for (std::int64_t i = 0; i < B * T; ++i)
    b.tokens.push_back(static_cast<std::int32_t>((i * 37 + 11) % V));
  return b;
}

std::vector<std::int32_t> targets_of(const Batch& b, std::int64_t V) {
  std::vector<std::int32_t> t;
  for (std::size_t i = 0; i < b.tokens.size(); ++i)
    t.push_back(i % 5 == 4 ? -1 : static_cast<std::int32_t>((i * 53 + 7) % V));
  return t;
}

// Raw element values (f32 or f64) as doubles, bit-exact for both.
std::vector<double> values(const Tensor& t) {
  std::vector<double> v(static_cast<std::size_t>(t.numel()));
  if (t.dtype() == DType::f64) {
    t.copy_to_host(v.data(), v.size() * sizeof(double));
  } else {
    const std::vector<float> f = t.to_floats();
    v.assign(f.begin(), f.end());
  }
  return v;
}

class LogitsPitch : public ::testing::TestWithParam<std::tuple<const char*, DType>> {};

// Both heads (Day-18's own lm_head with a bias, GPT-2's tied embedding), f32 and f64: V = 97 and
// 101 padded to 128. Forward, loss, training step (in one piece and in chunks of 5 rows).
TEST_P(LogitsPitch, SameLogitsLossAndGradientsAsCompact) {
  const auto [name, dtype] = GetParam();
  Loaded compact = golden(name, dtype, 1), padded = golden(name, dtype, 64);
  const std::int64_t V = compact.model->config().vocab_size;
  ASSERT_EQ(compact.model->logits_pitch(), V);
  ASSERT_EQ(padded.model->logits_pitch(), (V + 63) / 64 * 64);
  ASSERT_GT(padded.model->logits_pitch(), V);  // the tiny vocabularies are no multiple of 64
  const std::int64_t P = padded.model->logits_pitch();
  const Batch batch = batch_of(2, 7, V);
  const std::vector<std::int32_t> targets = targets_of(batch, V);

  const Tensor a = compact.model->forward(batch), b = padded.model->forward(batch);
  ASSERT_EQ(a.shape(), (Shape{2, 7, V}));
  ASSERT_EQ(b.shape(), (Shape{2, 7, P}));
  const std::vector<double> va = values(a), vb = values(b);
  for (std::int64_t r = 0; r < 14; ++r)
    for (std::int64_t c = 0; c < V; ++c)
      ASSERT_EQ(va[r * V + c], vb[r * P + c]) << "row " << r << ", column " << c;

  for (std::int64_t rows : {std::int64_t{0}, std::int64_t{5}}) {
    SCOPED_TRACE(rows ? "in chunks of 5 rows" : "in one piece");
    EXPECT_EQ(compact.model->loss(batch, targets, -1, rows),
              padded.model->loss(batch, targets, -1, rows));
    Gradients ga(*compact.model), gb(*padded.model);
    const double la = compact.model->forward_backward(batch, targets, ga, 0, 1.0, -1, rows);
    const double lb = padded.model->forward_backward(batch, targets, gb, 0, 1.0, -1, rows);
    EXPECT_EQ(la, lb);
    const auto pa = compact.model->named_parameters(), pb = padded.model->named_parameters();
    ASSERT_EQ(pa.size(), pb.size());
    for (std::size_t i = 0; i < pa.size(); ++i)
      EXPECT_EQ(values(ga.of(pa[i].tensor)), values(gb.of(pb[i].tensor))) << pa[i].name;
  }
}

// "gpt2_tiny_f32": a test name from (config, dtype).
const auto case_name = [](const auto& info) {
  std::string n = std::string(std::get<0>(info.param)) + "_" + dtype_name(std::get<1>(info.param));
  for (char& c : n)
    if (c == '-') c = '_';
  return n;
};

INSTANTIATE_TEST_SUITE_P(Heads, LogitsPitch,
                         ::testing::Combine(::testing::Values("gpt-day18-tiny", "gpt2-tiny"),
                                            ::testing::Values(DType::f32, DType::f64)),
                         case_name);

// With hooks attached the forward is compact: captures of the logits (Day-18's lm_head) and
// every consumer of run_logits (analysis/) see V columns. Generation's logits are compact.
TEST(LogitsPitchUsers, HooksAndGenerationSeeTheVocabulary) {
  for (const char* name : {"gpt-day18-tiny", "gpt2-tiny"}) {
    SCOPED_TRACE(name);
    Loaded compact = golden(name, DType::f32, 1), padded = golden(name, DType::f32, 64);
    const std::int64_t V = padded.model->config().vocab_size;
    const Batch batch = batch_of(1, 5, V);
    Hooks hooks;
    hooks.capture_outputs({"lm_head"});
    padded.model->attach_hooks(&hooks);
    const Tensor hooked = padded.model->forward(batch);
    padded.model->attach_hooks(nullptr);
    EXPECT_EQ(hooked.shape(), (Shape{1, 5, V}));
    EXPECT_EQ(hooked.to_floats(), compact.model->forward(batch).to_floats());
    // Day-18's head is a module of its own (a hook point); GPT-2's is the tied wte.
    const Capture* c = hooks.find("lm_head");
    if (std::string(name) == "gpt-day18-tiny") {
      ASSERT_NE(c, nullptr);
      EXPECT_EQ(c->shape, (Shape{1, 5, V}));
    }
    // Detached again: padded.
    EXPECT_EQ(padded.model->forward(batch).size(-1), padded.model->logits_pitch());

    KvCache cache = padded.model->make_cache(1, 8);
    const Tensor last = padded.model->forward_cached(batch, cache);
    EXPECT_EQ(last.shape(), (Shape{1, 1, V}));
  }
}

// Every allocation of a padded training step and forward is the same on meta as on the cpu.
TEST(LogitsPitchMemory, MetaEqualsCpuByteForByte) {
  const ModelConfig config = load_config("gpt2-tiny");
  const Batch batch = batch_of(3, 11, config.vocab_size);
  const std::vector<std::int32_t> targets = targets_of(batch, config.vocab_size);
  std::vector<TimelineEvent> events[2];
  ArenaStats stats[2];
  for (int meta = 0; meta < 2; ++meta) {
    auto arena = Arena::create(meta ? Device::meta() : Device::cpu(), 64ull << 20);
    auto model = build_gpt(config, arena, DType::f32);
    model->set_logits_pitch_multiple(64);
    arena->record_timeline(true);
    {
      Gradients grads(*model);
      model->forward_backward(batch, targets, grads, 0, 1.0, -1, 8);
      model->forward(batch);
    }
    events[meta] = arena->timeline();
    stats[meta] = arena->stats();
  }
  EXPECT_EQ(stats[0].peak, stats[1].peak);
  EXPECT_EQ(stats[0].at_peak, stats[1].at_peak);
  EXPECT_EQ(stats[0].peak_by_category, stats[1].peak_by_category);
  EXPECT_EQ(stats[0].allocations, stats[1].allocations);
  ASSERT_EQ(events[0].size(), events[1].size());
  for (std::size_t i = 0; i < events[0].size(); ++i) {
    EXPECT_EQ(events[0][i].bytes, events[1][i].bytes) << "event " << i;
    EXPECT_EQ(events[0][i].in_use, events[1][i].in_use) << "event " << i;
  }
}

std::uint64_t aligned(std::uint64_t bytes) {
  return (bytes + 255) / 256 * 256;
}

// The peak of a forward and of a training step (meta) with and without the pitch. GPT-2 small's
// logits are its largest tensor, so its peaks move by exactly the padded logits' bytes;
// gpt-day18's 32000 is a multiple of 64 and nothing moves.
TEST(LogitsPitchMemory, PaysExactlyThePaddedBytes) {
  for (const char* name : {"gpt2-124m", "gpt-day18"}) {
    SCOPED_TRACE(name);
    const ModelConfig config = load_config(name);
    const Batch batch = batch_of(2, 64, config.vocab_size);
    const std::vector<std::int32_t> targets = targets_of(batch, config.vocab_size);
    std::uint64_t forward[2], step[2];
    std::int64_t pitch = 0;
    for (int padded = 0; padded < 2; ++padded) {
      auto arena = Arena::create(Device::meta(), 1ull << 40);
      auto model = build_gpt(config, arena, DType::f32);
      model->set_logits_pitch_multiple(padded ? 64 : 1);
      pitch = model->logits_pitch();
      model->forward(batch);
      forward[padded] = arena->stats().peak;
      Gradients grads(*model);
      model->forward_backward(batch, targets, grads);
      step[padded] = arena->stats().peak;
    }
    const auto rows = static_cast<std::uint64_t>(batch.B * batch.T);
    const std::uint64_t extra = aligned(rows * static_cast<std::uint64_t>(pitch) * 4) -
                                aligned(rows * static_cast<std::uint64_t>(config.vocab_size) * 4);
    if (config.vocab_size % 64 == 0) {
      EXPECT_EQ(pitch, config.vocab_size);
      EXPECT_EQ(extra, 0u);
    } else {
      EXPECT_EQ(pitch, 50304);
      EXPECT_GT(extra, 0u);
    }
    EXPECT_EQ(forward[1] - forward[0], extra);
    EXPECT_EQ(step[1] - step[0], extra);
  }
}

// CUGPT_LOGITS_PITCH selects the multiple at construction; a bad value is a one-line error.
TEST(LogitsPitchEnv, SelectsThePitchAndRejectsBadValues) {
  const ModelConfig config = load_config("gpt2-tiny");
  auto arena = Arena::create(Device::meta(), 1ull << 30);
  const char* before = std::getenv("CUGPT_LOGITS_PITCH");
  const std::string saved = before ? before : "";
  ::unsetenv("CUGPT_LOGITS_PITCH");
  EXPECT_EQ(build_gpt(config, arena, DType::f32)->logits_pitch(), 101);
  ::setenv("CUGPT_LOGITS_PITCH", "64", 1);
  EXPECT_EQ(build_gpt(config, arena, DType::f32)->logits_pitch(), 128);
  ::setenv("CUGPT_LOGITS_PITCH", "1", 1);
  EXPECT_EQ(build_gpt(config, arena, DType::f32)->logits_pitch(), 101);
  for (const char* bad : {"0", "-64", "abc", "64x", "99999"}) {
    ::setenv("CUGPT_LOGITS_PITCH", bad, 1);
    try {
      build_gpt(config, arena, DType::f32);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("CUGPT_LOGITS_PITCH=" + std::string(bad)),
                std::string::npos)
          << e.what();
    }
  }
  if (before)
    ::setenv("CUGPT_LOGITS_PITCH", saved.c_str(), 1);
  else
    ::unsetenv("CUGPT_LOGITS_PITCH");
}

class CudaLogitsPitchTimed : public testing::CudaTest {};

// ---- On a GPU (skipped, with the reason, without one). The compact f32 and 16-bit rows of
// V = 97, 101 or 50257 are not 16-byte aligned (cuBLAS fallback); the padded ones are
// (cuBLASLt): other algorithms, so the results agree to the dtype's rounding, not bit for bit.

class CudaLogitsPitch : public testing::CudaTest,
                        public ::testing::WithParamInterface<std::tuple<const char*, DType>> {};

std::unique_ptr<Gpt> on_cuda(const std::shared_ptr<Arena>& arena, const std::string& name,
                             DType dtype, std::int64_t multiple) {
  auto model = build_gpt(load_config(name), arena, dtype);
  model->set_logits_pitch_multiple(multiple);
  LoadOptions lo;
  lo.convert_dtype = true;
  load_weights(*model, kGolden + name + "/weights.safetensors", lo);
  return model;
}

TEST_P(CudaLogitsPitch, TinyStepMatchesCompact) {
  const auto [name, dtype] = GetParam();
  auto arena = Arena::create(Device::cuda(), 256ull << 20);
  auto compact = on_cuda(arena, name, dtype, 1), padded = on_cuda(arena, name, dtype, 64);
  const std::int64_t V = compact->config().vocab_size, P = padded->logits_pitch();
  const Batch batch = batch_of(2, 7, V);
  const std::vector<std::int32_t> targets = targets_of(batch, V);
  const double tol = 4 * testing::tolerance(dtype);
  const std::vector<float> a = compact->forward(batch).to_floats();
  const std::vector<float> b_pitched = padded->forward(batch).to_floats();
  std::vector<float> b;
  for (std::int64_t r = 0; r < 14; ++r)
    b.insert(b.end(), b_pitched.begin() + r * P, b_pitched.begin() + r * P + V);
  EXPECT_TRUE(testing::close(b, a, tol));
  for (std::int64_t rows : {std::int64_t{0}, std::int64_t{5}}) {
    SCOPED_TRACE(rows ? "in chunks of 5 rows" : "in one piece");
    Gradients ga(*compact), gb(*padded);
    const double la = compact->forward_backward(batch, targets, ga, 0, 1.0, -1, rows);
    const double lb = padded->forward_backward(batch, targets, gb, 0, 1.0, -1, rows);
    EXPECT_NEAR(lb, la, tol * std::fabs(la));
    EXPECT_NEAR(padded->loss(batch, targets, -1, rows), la, tol * std::fabs(la));
    const auto pa = compact->named_parameters(), pb = padded->named_parameters();
    for (std::size_t i = 0; i < pa.size(); ++i)
      EXPECT_TRUE(
          testing::close(gb.of(pb[i].tensor).to_floats(), ga.of(pa[i].tensor).to_floats(), tol))
          << pa[i].name;
  }
}

INSTANTIATE_TEST_SUITE_P(Heads, CudaLogitsPitch,
                         ::testing::Combine(::testing::Values("gpt-day18-tiny", "gpt2-tiny"),
                                            ::testing::Values(DType::f32, DType::bf16)),
                         case_name);

// GPT-2 small, bf16, B=4, T=1024, both layouts in one process: the forward and a training step
// (head and loss in 64 MiB chunks), the losses within bf16's rounding, and the median times
// printed (the measurement issue 17 asks for: the padded head takes cuBLASLt).
TEST_F(CudaLogitsPitchTimed, Gpt2SmallForwardAndStepBothWays) {
  auto arena = Arena::create(Device::cuda(), 24ull << 30);
  auto model = build_gpt(load_config("gpt2-124m"), arena, DType::bf16);
  init_parameters(*model, 1);
  const std::int64_t V = model->config().vocab_size;
  const Batch batch = batch_of(4, 1024, V);
  const std::vector<std::int32_t> targets = targets_of(batch, V);
  double loss[2];
  for (int padded = 0; padded < 2; ++padded) {
    model->set_logits_pitch_multiple(padded ? 64 : 1);
    Gradients grads(*model);
    model->forward(batch);  // warm-up: heuristics, plans
    loss[padded] = model->forward_backward(batch, targets, grads);
    std::vector<double> fwd, step;
    for (int i = 0; i < 5; ++i) {
      fwd.push_back(time_ms(Device::cuda(), [&] { model->forward(batch); }));
      step.push_back(time_ms(Device::cuda(), [&] {
        grads.zero();
        model->forward_backward(batch, targets, grads);
      }));
    }
    std::sort(fwd.begin(), fwd.end());
    std::sort(step.begin(), step.end());
    std::printf(
        "gpt2-124m bf16 B=4 T=1024, logits pitch %lld: forward %.2f ms, "
        "forward+backward %.2f ms (medians of 5), loss %.6f\n",
        static_cast<long long>(model->logits_pitch()), fwd[2], step[2], loss[padded]);
  }
  EXPECT_NEAR(loss[1], loss[0], 1e-2 * std::fabs(loss[0]));
}

}  // namespace
}  // namespace cugpt
