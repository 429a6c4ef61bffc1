// The GPU half of training's whole models against the cpu: a tiny-model step on cuda (loss,
// gradients, update) against the cpu, the chunked loss, bit-reproducible gradients at every
// recompute level, the cuda arena against the meta prediction, bf16 training that learns, f16
// loss scaling that skips an overflowing step and halves the scale. The kernels alone are in
// test_cuda_training_kernels.cpp. Skipped, with the reason, without a GPU.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/factory.h"
#include "models/init.h"
#include "models/weights.h"
#include "tests/byte_text.h"
#include "tests/gpu_test.h"
#include "train/memory_plan.h"
#include "train/trainer.h"

namespace cugpt {
namespace {

using testing::close;
using testing::identical;

const std::string kGolden = std::string(CUGPT_SOURCE_DIR) + "/tests/data/golden/";

struct ModelRun {
  std::shared_ptr<Arena> arena;
  std::unique_ptr<Gpt> model;
  std::unique_ptr<Training> training;
  Gpt& gpt() { return *model; }
  Gradients& grads() { return training->grads; }
  Optimizer& opt() { return training->opt; }
};

ModelRun make_run(Device d, DType t, const ModelConfig& config, const std::string& weights,
                  const OptimizerOptions& o) {
  ModelRun r;
  r.arena = Arena::create(d, 256ull << 20);
  r.model = build_gpt(config, r.arena, t);
  LoadOptions lo;
  lo.convert_dtype = true;
  load_weights(*r.model, weights, lo);
  r.training = std::make_unique<Training>(make_training(*r.model, o));
  return r;
}

// The golden training input of a tiny model, and a second micro-batch (each row reversed).
std::vector<std::pair<Batch, std::vector<std::int32_t>>> golden_batches(const std::string& name) {
  std::ifstream in(kGolden + name + "/train_input.json");
  const auto j = nlohmann::json::parse(in);
  const auto rows = j.at("tokens").get<std::vector<std::vector<std::int32_t>>>();
  const auto trows = j.at("targets").get<std::vector<std::vector<std::int32_t>>>();
  std::vector<std::pair<Batch, std::vector<std::int32_t>>> out(2);
  for (int k = 0; k < 2; ++k) {
    Batch& b = out[k].first;
    b.B = static_cast<std::int64_t>(rows.size());
    b.T = static_cast<std::int64_t>(rows[0].size());
    for (std::size_t r = 0; r < rows.size(); ++r) {
      auto tok = rows[r], tgt = trows[r];
      if (k == 1) std::reverse(tok.begin(), tok.end()), std::reverse(tgt.begin(), tgt.end());
      b.tokens.insert(b.tokens.end(), tok.begin(), tok.end());
      out[k].second.insert(out[k].second.end(), tgt.begin(), tgt.end());
    }
  }
  return out;
}

// name, and whether to run it with 32-wide heads (the tiled attention kernels) instead of the
// config's own 8-wide ones.
class CudaTrainingModel : public testing::CudaTest,
                          public ::testing::WithParamInterface<std::tuple<const char*, bool>> {};

TEST_P(CudaTrainingModel, TinyStepMatchesCpu) {
  const auto [name, wide_heads] = GetParam();
  ModelConfig config = load_config(name);
  if (wide_heads) config.n_head = config.n_embd / 32;
  const std::string weights = kGolden + std::string(name) + "/weights.safetensors";
  OptimizerOptions o;
  o.kind = OptimizerKind::sgd;  // linear in the gradients: updated weights compare tightly
  o.lr = 0.1;
  o.clip = 0;
  ModelRun cpu = make_run(Device::cpu(), DType::f32, config, weights, o);
  ModelRun gpu = make_run(Device::cuda(0), DType::f32, config, weights, o);
  double loss_cpu = 0, loss_gpu = 0;
  for (const auto& [batch, targets] : golden_batches(name)) {  // two micro-batches accumulate
    loss_cpu += cpu.gpt().forward_backward(batch, targets, cpu.grads(), 0, 0.5);
    loss_gpu += gpu.gpt().forward_backward(batch, targets, gpu.grads(), 0, 0.5);
  }
  EXPECT_NEAR(loss_gpu, loss_cpu, 1e-5 * std::fabs(loss_cpu));
  const auto cp = cpu.model->named_parameters(), gp = gpu.model->named_parameters();
  ASSERT_EQ(cp.size(), gp.size());
  for (std::size_t i = 0; i < cp.size(); ++i)
    EXPECT_TRUE(close(gpu.grads().of(gp[i].tensor).to_floats(),
                      cpu.grads().of(cp[i].tensor).to_floats(), 1e-4))
        << cp[i].name;
  const double norm_gpu = gpu.opt().step(gpu.grads(), 0.1),
               norm_cpu = cpu.opt().step(cpu.grads(), 0.1);
  EXPECT_NEAR(norm_gpu, norm_cpu, 1e-5 * norm_cpu);
  for (std::size_t i = 0; i < cp.size(); ++i)
    EXPECT_TRUE(close(gp[i].tensor.to_floats(), cp[i].tensor.to_floats(), 1e-5)) << cp[i].name;
}

INSTANTIATE_TEST_SUITE_P(Tiny, CudaTrainingModel,
                         ::testing::Combine(::testing::Values("gpt-day18-tiny", "gpt2-tiny"),
                                            ::testing::Bool()));

class CudaTraining : public testing::CudaTest {};

// The loss in chunks of rows on the card (ops::rows, write_rows, a chunk counting no target)
// equals the cpu's loss in one piece.
TEST_F(CudaTraining, ChunkedLossMatchesCpu) {
  for (const char* name : {"gpt-day18-tiny", "gpt2-tiny"}) {
    SCOPED_TRACE(name);
    const ModelConfig config = load_config(name);
    const std::string weights = kGolden + std::string(name) + "/weights.safetensors";
    auto [batch, targets] = golden_batches(name)[0];
    for (int i = 0; i < 5; ++i) targets[static_cast<std::size_t>(i)] = -1;
    ModelRun cpu = make_run(Device::cpu(), DType::f32, config, weights, OptimizerOptions{});
    ModelRun gpu = make_run(Device::cuda(0), DType::f32, config, weights, OptimizerOptions{});
    const double loss_cpu = cpu.gpt().forward_backward(batch, targets, cpu.grads());
    const double loss_gpu = gpu.gpt().forward_backward(batch, targets, gpu.grads(), 0, 1.0, -1, 5);
    EXPECT_NEAR(loss_gpu, loss_cpu, 1e-5 * std::fabs(loss_cpu));
    const auto cp = cpu.model->named_parameters(), gp = gpu.model->named_parameters();
    for (std::size_t i = 0; i < cp.size(); ++i)
      EXPECT_TRUE(close(gpu.grads().of(gp[i].tensor).to_floats(),
                        cpu.grads().of(cp[i].tensor).to_floats(), 1e-4))
          << cp[i].name;
  }
}

// Deterministic kernels: a rerun, and every recompute level, give the same gradient bits.
TEST_F(CudaTraining, GradientsAreBitReproducible) {
  ModelConfig config = load_config("gpt2-tiny");
  config.n_head = 1;
  const std::string weights = kGolden + "gpt2-tiny/weights.safetensors";
  const auto batches = golden_batches("gpt2-tiny");
  for (DType t : {DType::f32, DType::bf16}) {
    std::vector<std::vector<float>> first;
    for (int level : {0, 0, 1, 2, 3}) {
      ModelRun r = make_run(Device::cuda(0), t, config, weights, OptimizerOptions{});
      r.gpt().forward_backward(batches[0].first, batches[0].second, r.grads(), level);
      std::size_t k = 0;
      for (const auto& p : r.model->named_parameters()) {
        const auto g = r.grads().of(p.tensor).to_floats();
        if (first.size() <= k)
          first.push_back(g);
        else
          EXPECT_TRUE(identical(g, first[k]))
              << dtype_name(t) << " level " << level << " " << p.name;
        ++k;
      }
    }
  }
}

// Every allocation of the CUDA step (workspaces included) happens on meta too: the meta
// prediction of a training step is the cuda arena's measurement, byte for byte.
TEST_F(CudaTraining, ArenaEqualsTheMetaPrediction) {
  for (const auto& [name, t] :
       {std::make_pair("gpt2-124m", DType::bf16), std::make_pair("gpt-day18", DType::f16),
        std::make_pair("gpt2-tiny", DType::f32)}) {
    MemoryQuery q;
    q.dtype = t;
    q.batch = 2;
    q.seq = std::min<std::int64_t>(67, load_config(name).max_positions - 1);
    q.recompute = 1;
    const MemoryResult predicted = simulate_memory(load_config(name), q);
    q.device = Device::cuda(0);
    const MemoryResult measured = simulate_memory(load_config(name), q);
    EXPECT_EQ(predicted.peak, measured.peak) << name;
    EXPECT_EQ(predicted.at_peak, measured.at_peak) << name;
    EXPECT_EQ(predicted.at_end, measured.at_end) << name;
    EXPECT_EQ(predicted.peak_at, measured.peak_at) << name;
  }
}

struct ByteRun {
  std::unique_ptr<Dataset> data;  // the trainer keeps a reference: it must not move
  std::shared_ptr<Arena> arena;
  std::unique_ptr<Gpt> model;
  std::unique_ptr<Trainer> trainer;
};

ByteRun byte_run(DType t, const TrainOptions& o) {
  const std::string text = byte_text();
  ByteRun r;
  r.data = std::make_unique<Dataset>(Dataset::from_tokens({text.begin(), text.end()}, 256));
  ModelConfig config = load_config("gpt2-bytes-tiny");
  config.n_head = 2;  // 32-wide heads
  r.arena = Arena::create(Device::cuda(0), 256ull << 20);
  r.model = build_gpt(config, r.arena, t);
  init_parameters(*r.model, 1);
  r.trainer = std::make_unique<Trainer>(*r.model, *r.data, o);
  return r;
}

// 16-bit parameters are their f32 master weights, rounded.
void expect_params_are_rounded_masters(Model& model, const Optimizer& opt, DType t) {
  const auto params = model.named_parameters();
  ASSERT_EQ(opt.master_weights().size(), params.size());
  for (std::size_t i = 0; i < params.size(); ++i)
    EXPECT_TRUE(identical(params[i].tensor.to_floats(),
                          testing::round_to(t, opt.master_weights()[i].to_floats())))
        << params[i].name;
}

TEST_F(CudaTraining, Bf16TinyModelLearns) {
  TrainOptions o;
  o.steps = 50, o.batch = 8, o.seq = 32, o.warmup = 5, o.optim.lr = 3e-3;
  ByteRun r = byte_run(DType::bf16, o);
  EXPECT_FALSE(r.trainer->optimizer().loss_scaling());  // bf16: no loss scaling
  const double before = r.trainer->evaluate();
  while (r.trainer->steps_done() < o.steps) EXPECT_FALSE(r.trainer->step().skipped);
  const double after = r.trainer->evaluate();
  std::printf("bf16 on cuda: validation loss %.3f -> %.3f after %lld steps\n", before, after,
              static_cast<long long>(o.steps));
  EXPECT_TRUE(std::isfinite(after));
  EXPECT_LT(after, before - 1.0);
  expect_params_are_rounded_masters(*r.model, r.trainer->optimizer(), DType::bf16);
}

TEST_F(CudaTraining, F16OverflowSkipsTheStepAndHalvesTheScale) {
  TrainOptions o;
  o.steps = 100, o.batch = 8, o.seq = 32, o.warmup = 5, o.optim.lr = 3e-3;
  const double init = std::ldexp(1.0, 40);  // dlogits alone overflow f16 at this scale
  o.optim.loss_scale_init = init;
  ByteRun r = byte_run(DType::f16, o);
  Optimizer& opt = r.trainer->optimizer();
  ASSERT_TRUE(opt.loss_scaling());  // automatic for f16
  std::vector<std::vector<float>> before;
  for (const auto& p : r.model->named_parameters()) before.push_back(p.tensor.to_floats());
  StepReport rep = r.trainer->step();
  EXPECT_TRUE(rep.skipped);
  EXPECT_EQ(rep.skipped_steps, 1);
  EXPECT_EQ(rep.loss_scale, init);
  EXPECT_EQ(opt.loss_scale(), init / 2);
  EXPECT_TRUE(std::isfinite(rep.loss));
  std::size_t k = 0;
  for (const auto& p : r.model->named_parameters())
    EXPECT_TRUE(identical(p.tensor.to_floats(), before[k++])) << "skipped step moved " << p.name;
  // Halving until the gradients fit in f16, then an applied step.
  std::int64_t skipped = 1;
  while (rep.skipped && r.trainer->steps_done() < 60) {
    rep = r.trainer->step();
    if (rep.skipped) ++skipped;
    EXPECT_EQ(rep.skipped_steps, skipped);
  }
  ASSERT_FALSE(rep.skipped) << "still overflowing at scale " << opt.loss_scale();
  EXPECT_EQ(opt.loss_scale(), std::ldexp(init, -static_cast<int>(skipped)));
  EXPECT_TRUE(std::isfinite(rep.grad_norm));
  std::printf("f16: %lld steps skipped, first applied at loss scale %g\n",
              static_cast<long long>(skipped), opt.loss_scale());
  expect_params_are_rounded_masters(*r.model, opt, DType::f16);
}

}  // namespace
}  // namespace cugpt
