#include "train/trainer.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <map>

#include "io/checkpoint.h"
#include "io/checkpoint_dir.h"
#include "io/numbers.h"
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

namespace {
// ZeRO-1 on several ranks: the elements whose states this rank holds; else unsharded (all).
ShardLayout layout_here(const Module& model, const TrainOptions& o, const Communicator* comm) {
  if (o.zero != 0 && o.zero != 1) throw Error("--zero must be 0 or 1");
  if (o.zero == 0 || !comm || comm->size() < 2) return {};
  return ShardLayout::of(model, comm->size(), comm->rank());
}
}  // namespace

Trainer::Trainer(Gpt& model, const Dataset& data, const TrainOptions& options)
    : Trainer(model, data, options, nullptr) {}

Trainer::Trainer(Gpt& model, const Dataset& data, const TrainOptions& options, Communicator* comm)
    : Trainer(model, data, options, comm, allocate(model, options, comm)) {}

Trainer::State Trainer::allocate(Gpt& model, const TrainOptions& o, const Communicator* comm) {
  State s;
  s.decay = decay_flags(model);
  if (o.offload == OffloadMode::none) {
    s.training = allocate_training_state(model, o.optim.kind, layout_here(model, o, comm));
    for (const auto& p : model.named_parameters())
      if (p.trainable) s.params.push_back(p);
    return s;
  }
  if (comm && comm->size() > 1)
    throw Error("--offload " + std::string(offload_name(o.offload)) +
                " runs on one rank (not yet under mpirun)");
  s.offload = std::make_unique<Offload>(model, o.optim.kind, o.offload, o.host_arena);
  s.training.gradients = s.offload->device_gradients();
  s.training.optimizer = s.offload->take_host_state();
  s.params = s.offload->host_parameters();
  return s;
}

Trainer::Trainer(Gpt& model, const Dataset& data, const TrainOptions& options, Communicator* comm,
                 State state)
    : model_(model),
      data_(data),
      options_(options),
      offload_(std::move(state.offload)),
      grads_(std::move(state.training.gradients)),
      optimizer_(std::move(state.params), std::move(state.decay), options.optim,
                 std::move(state.training.optimizer), {layout_here(model, options, comm), comm}),
      comm_(comm && comm->size() > 1 ? comm : nullptr) {
  // The exchange buffers come right after the training state, as a meta run predicts them.
  if (comm_) {
    SyncOptions so;
    so.zero = options.zero == 1;
    so.bucket_bytes = options.bucket_bytes;
    so.overlap = options.overlap;
    for (std::size_t i = 0; i < model.blocks().size(); ++i) so.blocks.push_back(&model.blocks()[i]);
    sync_ = std::make_unique<GradientSync>(model, *comm_, so);
  }
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
    // Offload: the slots are the offload's to zero (each is several blocks' gradients).
    if (offload_) offload_->begin_step();
    if (!offload_ || offload_->mode() == OffloadMode::optimizer) grads_.zero();
    for (std::int64_t micro = 0; micro < options_.accum; ++micro) {
      // This rank's rows of the global micro-batch of world x B rows.
      data_.train_batch(options_.seed, step * options_.accum + micro, batch.B, batch.T,
                        batch.tokens, targets, rank() * batch.B);
      // Each micro-batch of each rank contributes 1/(accum world) of the mean loss's gradient.
      const double parts = static_cast<double>(options_.accum * world());
      std::function<void(std::size_t)> after_block;
      if (offload_)
        after_block = [&](std::size_t b) { offload_->after_block(b, micro, options_.accum); };
      // Data parallel with overlap: a block's exchange starts once its last micro-batch is in.
      if (sync_ && options_.overlap && micro + 1 == options_.accum)
        after_block = [&](std::size_t b) { sync_->block_done(b, grads_); };
      r.loss += model_.forward_backward(batch, targets, grads_, options_.recompute,
                                        r.loss_scale / parts, -1, 0, after_block) /
                parts;
    }
    if (offload_) {
      offload_->gradients_to_host();
      r.grad_norm = optimizer_.step(offload_->host_gradients(), r.lr, 1.0,
                                    [&](std::size_t i) { offload_->parameter_updated(i); });
      offload_->end_step();
      return;
    }
    if (sync_) {
      sync_->reduce(grads_);
      if (!device.is_meta()) {
        std::vector<double> loss = {r.loss};
        comm_->all_reduce_sum(loss);
        r.loss = loss[0];
      }
    }
    r.grad_norm = optimizer_.step(grads_, r.lr);
    if (sync_ && !optimizer_.last_step_skipped()) sync_->gather_parameters();
  });
  r.step = optimizer_.steps();
  r.skipped = optimizer_.last_step_skipped();
  r.skipped_steps = optimizer_.skipped_steps();
  r.tokens_per_s =
      static_cast<double>(options_.batch * options_.seq * options_.accum * world()) / (r.ms / 1e3);
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
  CheckpointDir out(dir);
  save(out);
}

void Trainer::describe(std::map<std::string, std::string> files,
                       std::map<std::string, std::string> manifest) {
  file_record_ = std::move(files);
  manifest_record_ = std::move(manifest);
}

void Trainer::save(CheckpointDir& out) const {
  save(&out);
}

void Trainer::save(CheckpointDir* out) const {
  // ZeRO: the states' pieces travel to the writer, in slot order, through host memory; it
  // assembles each state that it does not hold whole, so the file is an unsharded run's.
  std::vector<std::pair<std::string, Tensor>> states;
  std::shared_ptr<Arena> gathered;
  if (optimizer_.sharded()) {
    const std::vector<StateSlot> slots = optimizer_.state_slots();
    const ShardLayout& layout = optimizer_.layout();
    const auto mine_whole = [&](const StateSlot& s) {
      return s.tensor && s.tensor->numel() == s.shape.numel();
    };
    std::uint64_t bytes = 0;
    for (const StateSlot& s : slots)
      if (!mine_whole(s))
        bytes += (static_cast<std::uint64_t>(s.shape.numel()) * 4 + 255) / 256 * 256;
    if (out) gathered = Arena::create(Device::cpu(), std::max<std::uint64_t>(bytes, 256));
    std::vector<unsigned char> buf;
    for (const StateSlot& s : slots) {
      if (out && mine_whole(s)) {
        states.emplace_back(s.name, *s.tensor);
      } else if (out) {
        Tensor t = Tensor::empty(gathered, s.shape, DType::f32, Category::optimizer_state);
        auto* data = static_cast<unsigned char*>(t.data());
        for (int r = 0; r < world(); ++r) {
          const ElementRange p = layout.piece(s.param, r);
          if (p.empty()) continue;
          unsigned char* at = data + static_cast<std::size_t>(p.first) * 4;
          if (r == rank())
            s.tensor->copy_to_host(at, s.tensor->nbytes());
          else
            comm_->receive(at, static_cast<std::size_t>(p.size()) * 4, r);
        }
        states.emplace_back(s.name, t);
      } else if (s.tensor) {
        buf.resize(s.tensor->nbytes());
        s.tensor->copy_to_host(buf.data(), buf.size());
        comm_->send(buf.data(), buf.size(), 0);
      }
    }
  } else {
    states = optimizer_.named_state();
  }
  if (!out) return;
  std::map<std::string, std::string> meta = file_record_;
  std::map<std::string, std::string> manifest = manifest_record_;
  const std::map<std::string, std::string> state = {
      {"format", "pt"},
      {"generator", "cugpt train"},
      {"config", model_.config().name},
      {"step", std::to_string(optimizer_.steps())},
      {"optimizer", optimizer_name(options_.optim.kind)},
      {"skipped_steps", std::to_string(optimizer_.skipped_steps())},
      // %.17g: the scale is a power of two, but any double survives the round trip.
      {"loss_scale", format_double(optimizer_.scaler().scale())},
      {"loss_scale_good_steps", std::to_string(optimizer_.scaler().good_steps())}};
  for (const auto& [k, v] : state) meta[k] = v;
  manifest["config"] = model_.config().name;
  manifest["optimizer"] = optimizer_name(options_.optim.kind);
  manifest["generator"] = "cugpt train";
  // The tokenizer's files are model.safetensors' alone: the optimizer's file need not carry them.
  std::map<std::string, std::string> opt_meta = meta;
  opt_meta.erase("tokenizer_vocab");
  opt_meta.erase("tokenizer_merges");
  // Both files go into one step directory committed by its manifest (io/checkpoint_dir.h).
  out->publish(optimizer_.steps(),
               {{"model.safetensors",
                 [&](const std::string& p) { return save_checkpoint(model_, p, meta); }},
                {"optimizer.safetensors",
                 [&](const std::string& p) { return save_safetensors(p, states, opt_meta); }}},
               manifest);
}

void Trainer::resume(const std::string& dir) {
  // Sizes and checksums first: a torn or mixed pair is refused naming the file.
  resume(dir, verify_checkpoint(dir));
}

void Trainer::resume(const std::string& dir, const CheckpointManifest& manifest) {
  const std::string step_dir = dir + "/" + manifest.directory;
  const std::string model_path = step_dir + "/model.safetensors";
  const std::string opt_path = step_dir + "/optimizer.safetensors";
  for (const char* name : {"model.safetensors", "optimizer.safetensors"}) {
    bool listed = false;
    for (const ManifestFile& f : manifest.files) listed = listed || f.name == name;
    if (!listed) throw Error("checkpoint '" + dir + "': the manifest lists no " + name);
  }
  const SafetensorsFile opt_file = SafetensorsFile::open(opt_path);
  const SafetensorsFile model_file = SafetensorsFile::open(model_path);
  // Metadata read back from a file is validated as an option would be: "step": "-5" would
  // otherwise train with a negative learning rate.
  const auto field = [](const SafetensorsFile& f, const char* key) -> const std::string* {
    auto it = f.metadata().find(key);
    return it == f.metadata().end() ? nullptr : &it->second;
  };
  const auto where = [](const SafetensorsFile& f, const char* key) {
    return "'" + f.path() + "': metadata '" + key + "'";
  };
  const auto step_of = [&](const SafetensorsFile& f) {
    const std::string* s = field(f, "step");
    if (!s) throw Error("'" + f.path() + "' has no training step");
    return parse_int(where(f, "step"), *s, 0, std::int64_t{1} << 53);
  };
  const std::int64_t step = step_of(model_file);
  if (step_of(opt_file) != step || step != manifest.step)
    throw Error("checkpoint '" + dir + "': model, optimizer and manifest are from different steps");
  const std::string* opt_name = field(opt_file, "optimizer");
  if (!opt_name || *opt_name != optimizer_name(options_.optim.kind))
    throw Error("'" + opt_path + "' holds the state of another optimizer");
  // Validate every state tensor before loading any (name, shape, dtype), then copy. Sharded
  // (ZeRO-1), the file holds every rank's states, as an unsharded run's: this rank loads its
  // pieces.
  const std::vector<StateSlot> slots = optimizer_.state_slots();
  for (const StateSlot& slot : slots) {
    const SafetensorsEntry* e = opt_file.find(slot.name);
    if (!e) throw Error("'" + opt_path + "' lacks '" + slot.name + "'");
    if (Shape(e->shape) != slot.shape || e->dtype != DType::f32)
      throw Error("'" + opt_path + "': '" + slot.name + "' does not match the model");
  }
  if (opt_file.entries().size() != slots.size())
    throw Error("'" + opt_path + "' has tensors this optimizer does not");
  // Checkpoints from before mixed precision carry no scaler state: keep the defaults.
  const std::string* skipped = field(opt_file, "skipped_steps");
  const std::int64_t skipped_steps =
      skipped ? parse_int(where(opt_file, "skipped_steps"), *skipped, 0, step) : 0;
  const std::string* scale = field(opt_file, "loss_scale");
  const std::string* good = field(opt_file, "loss_scale_good_steps");
  double scale_value = 0;
  std::int64_t good_value = 0;
  if (scale && good) {
    scale_value = parse_real(where(opt_file, "loss_scale"), *scale, 0x1p-1000, 0x1p1000);
    good_value = parse_int(where(opt_file, "loss_scale_good_steps"), *good, 0, step);
  }
  load_checkpoint(model_, model_path);
  std::vector<unsigned char> buf;
  for (const StateSlot& slot : slots) {
    if (!slot.tensor) continue;
    buf.resize(static_cast<std::size_t>(slot.shape.numel()) * 4);
    opt_file.read(slot.name, buf.data(), buf.size());
    // A copy of the handle: the optimizer's storage, writable.
    Tensor t = *slot.tensor;
    t.copy_from_host(buf.data() + static_cast<std::size_t>(slot.first) * 4, t.nbytes());
  }
  if (offload_) offload_->mark_stale();  // the host's copies follow the loaded parameters
  optimizer_.set_steps(static_cast<long>(step));
  optimizer_.master_weights_loaded();  // 16-bit parameters: the masters came with the states
  if (skipped) optimizer_.set_skipped_steps(static_cast<long>(skipped_steps));
  if (scale && good) optimizer_.scaler().restore(scale_value, static_cast<long>(good_value));
}

}  // namespace cugpt
