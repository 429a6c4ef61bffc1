#include "train/trainer.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "nn/ops_backward.h"
#include "nn/timing.h"

namespace cugpt {

namespace {
std::string format_double(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}
}  // namespace

double learning_rate(const TrainOptions& o, std::int64_t step) {
  const double lr = o.optim.lr;
  if (step < o.warmup) return lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup);
  const double span = static_cast<double>(std::max<std::int64_t>(1, o.steps - o.warmup));
  const double progress = std::min(1.0, static_cast<double>(step - o.warmup) / span);
  const double floor = lr * o.min_lr_fraction;
  return floor + 0.5 * (lr - floor) * (1.0 + std::cos(M_PI * progress));
}

Trainer::Trainer(Gpt& model, const Dataset& data, const TrainOptions& options)
    : Trainer(model, data, options, allocate_training_state(model, options.optim.kind)) {}

Trainer::Trainer(Gpt& model, const Dataset& data, const TrainOptions& options, TrainingState state)
    : model_(model),
      data_(data),
      options_(options),
      grads_(std::move(state.gradients)),
      optimizer_(model, options.optim, std::move(state.optimizer)) {
  if (options.batch <= 0 || options.seq <= 0 || options.accum <= 0 || options.steps <= 0)
    throw Error("--steps, --batch, --seq and --accum must be positive");
  if (options.seq > model.config().max_positions)
    throw Error("--seq " + std::to_string(options.seq) + " is longer than the " +
                std::to_string(model.config().max_positions) + " positions of " +
                model.config().name);
}

StepReport Trainer::step() {
  StepReport r;
  const std::int64_t step = optimizer_.steps();
  r.lr = learning_rate(options_, step);
  const Device device = model_.wte().weight().device();
  Batch batch;
  batch.B = options_.batch;
  batch.T = options_.seq;
  std::vector<std::int32_t> targets;
  // With f16 loss scaling the backward multiplies the loss by the scale; step() divides it out.
  r.loss_scale = optimizer_.loss_scale();
  r.ms = time_ms(device, [&] {
    grads_.zero();
    for (std::int64_t micro = 0; micro < options_.accum; ++micro) {
      data_.train_batch(options_.seed, step * options_.accum + micro, batch.B, batch.T,
                        batch.tokens, targets);
      // Each micro-batch contributes 1/accum of the mean loss's gradient.
      r.loss += model_.forward_backward(batch, targets, grads_, options_.recompute,
                                        r.loss_scale / static_cast<double>(options_.accum)) /
                static_cast<double>(options_.accum);
    }
    r.grad_norm = optimizer_.step(grads_, r.lr);
  });
  r.step = optimizer_.steps();
  r.skipped = optimizer_.last_step_skipped();
  r.skipped_steps = optimizer_.skipped_steps();
  r.tokens_per_s =
      static_cast<double>(options_.batch * options_.seq * options_.accum) / (r.ms / 1e3);
  return r;
}

double Trainer::evaluate() const {
  Batch batch;
  batch.B = options_.batch;
  batch.T = options_.seq;
  std::vector<std::int32_t> targets;
  double total = 0;
  for (std::int64_t i = 0; i < options_.eval_batches; ++i) {
    data_.val_batch(i, batch.B, batch.T, batch.tokens, targets);
    total += model_.loss(batch, targets);
  }
  return total / static_cast<double>(options_.eval_batches);
}

void Trainer::save(const std::string& dir) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("cannot create '" + dir + "': " + ec.message());
  const std::map<std::string, std::string> meta = {
      {"format", "pt"},
      {"generator", "cugpt train"},
      {"config", model_.config().name},
      {"step", std::to_string(optimizer_.steps())},
      {"optimizer", optimizer_name(options_.optim.kind)},
      {"skipped_steps", std::to_string(optimizer_.skipped_steps())},
      // %.17g: the scale is a power of two, but any double survives the round trip.
      {"loss_scale", format_double(optimizer_.scaler().scale())},
      {"loss_scale_good_steps", std::to_string(optimizer_.scaler().good_steps())}};
  // The optimizer first: a crash between the two writes leaves a model file from the previous
  // step, which resume() refuses rather than mixing steps.
  save_safetensors(dir + "/optimizer.safetensors", optimizer_.named_state(), meta);
  save_checkpoint(model_, dir + "/model.safetensors", meta);
}

void Trainer::resume(const std::string& dir) {
  const std::string model_path = dir + "/model.safetensors";
  const std::string opt_path = dir + "/optimizer.safetensors";
  const SafetensorsFile opt_file = SafetensorsFile::open(opt_path);
  const SafetensorsFile model_file = SafetensorsFile::open(model_path);
  const auto step_of = [](const SafetensorsFile& f) {
    auto it = f.metadata().find("step");
    if (it == f.metadata().end()) throw Error("'" + f.path() + "' has no training step");
    return std::stoll(it->second);
  };
  const long long step = step_of(model_file);
  if (step_of(opt_file) != step)
    throw Error("'" + dir + "': model and optimizer checkpoints are from different steps");
  auto opt_meta = opt_file.metadata().find("optimizer");
  if (opt_meta == opt_file.metadata().end() ||
      opt_meta->second != optimizer_name(options_.optim.kind))
    throw Error("'" + opt_path + "' holds the state of another optimizer");
  // Validate every state tensor before loading any (name, shape, dtype), then copy.
  auto state = optimizer_.named_state();
  for (auto& [name, t] : state) {
    const SafetensorsEntry* e = opt_file.find(name);
    if (!e) throw Error("'" + opt_path + "' lacks '" + name + "'");
    if (Shape(e->shape) != t.shape() || e->dtype != t.dtype())
      throw Error("'" + opt_path + "': '" + name + "' does not match the model");
  }
  if (opt_file.entries().size() != state.size())
    throw Error("'" + opt_path + "' has tensors this optimizer does not");
  load_checkpoint(model_, model_path);
  for (auto& [name, t] : state) {
    std::vector<unsigned char> buf(t.nbytes());
    opt_file.read(name, buf.data(), buf.size());
    t.copy_from_host(buf.data(), buf.size());
  }
  optimizer_.set_steps(static_cast<long>(step));
  optimizer_.master_weights_loaded();  // 16-bit parameters: the masters came with the states
  // Checkpoints from before mixed precision carry no scaler state: keep the defaults.
  const auto& meta = opt_file.metadata();
  const auto skipped = meta.find("skipped_steps");
  if (skipped != meta.end()) optimizer_.set_skipped_steps(std::stol(skipped->second));
  const auto scale = meta.find("loss_scale"), good = meta.find("loss_scale_good_steps");
  if (scale != meta.end() && good != meta.end())
    optimizer_.scaler().restore(std::stod(scale->second), std::stol(good->second));
}

}  // namespace cugpt
