#include "nn/optimizer.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <utility>

#include "kernels/adamw.h"
#include "kernels/runtime.h"
#include "nn/backend.h"

namespace cugpt {

namespace {
void collect_no_decay(const Module& m, std::set<const void*>& out) {
  const std::string type = m.type_name();
  if (type == "LayerNorm" || type == "Embedding")
    for (const auto& [name, t] : m.own_parameters()) out.insert(t.storage_id());
  for (const auto& [name, child] : m.children()) collect_no_decay(*child, out);
}

std::vector<NamedParameter> trainable(const Module& model) {
  std::vector<NamedParameter> out;
  for (auto& p : model.named_parameters())
    if (p.trainable) out.push_back(p);
  return out;
}

// The updates of t's device: the cpu's also take 16-bit parameters with their masters (optimizer
// offload's host side), which its other ops refuse.
const Backend* update_backend(const Tensor& t) {
  if (t.device().is_cpu() && dtype_size(t.dtype()) == 2) return byte_backend(t);
  return backend_for("optimizer", t);
}

}  // namespace

DynamicLossScaler::DynamicLossScaler(double init, long growth_interval)
    : scale_(init), interval_(growth_interval) {
  if (!(init > 0) || !std::isfinite(init)) throw Error("loss scale: the initial scale must be > 0");
  if (growth_interval <= 0) throw Error("loss scale: the growth interval must be positive");
}

bool DynamicLossScaler::update(double grad_norm) {
  if (!std::isfinite(grad_norm)) {
    scale_ = std::max(kMinScale, scale_ / 2);
    good_steps_ = 0;
    return false;
  }
  if (++good_steps_ >= interval_) {
    scale_ *= 2;
    good_steps_ = 0;
  }
  return true;
}

void DynamicLossScaler::restore(double scale, long good_steps) {
  if (!(scale > 0) || !std::isfinite(scale) || good_steps < 0)
    throw Error("loss scale: bad checkpoint state");
  scale_ = scale;
  good_steps_ = good_steps;
}

std::vector<bool> decay_flags(const Module& model) {
  std::set<const void*> no_decay;
  collect_no_decay(model, no_decay);
  std::vector<bool> out;
  for (const NamedParameter& p : trainable(model))
    out.push_back(p.tensor.ndim() >= 2 && !no_decay.count(p.tensor.storage_id()));
  return out;
}

Optimizer::Optimizer(const Module& model, const OptimizerOptions& options, OptimizerState state,
                     OptimizerShard shard)
    : Optimizer(trainable(model), decay_flags(model), options, std::move(state), std::move(shard)) {
}

Optimizer::Optimizer(std::vector<NamedParameter> params, std::vector<bool> decay,
                     const OptimizerOptions& options, OptimizerState state, OptimizerShard shard)
    : options_(options),
      params_(std::move(params)),
      state_(std::move(state)),
      decay_(std::move(decay)),
      shard_(std::move(shard)),
      scaler_(options.loss_scale_init, options.loss_scale_growth_interval) {
  if (options.kind == OptimizerKind::none) throw Error("optimizer: kind none cannot step");
  if (decay_.size() != params_.size())
    throw Error("optimizer: " + std::to_string(decay_.size()) + " decay flags for " +
                std::to_string(params_.size()) + " parameters");
  if (sharded() && (shard_.layout.parameters() != params_.size() || !shard_.comm ||
                    shard_.comm->size() != shard_.layout.world()))
    throw Error("optimizer: a shard needs the layout of these parameters and its communicator");
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const std::int64_t n = params_[i].tensor.numel();
    if (sharded() && shard_.layout.size(i) != n)
      throw Error("optimizer: the shard layout is not these parameters'");
    piece_.push_back(sharded() ? shard_.layout.piece(i) : ElementRange{0, n});
  }
  int owned = 0;
  for (std::size_t i = 0; i < params_.size(); ++i) state_of_.push_back(owns(i) ? owned++ : -1);
  if (state_.states.size() != per_param() * static_cast<std::size_t>(owned))
    throw Error("optimizer: the states do not match the trainable parameters");
  bool f16 = false;
  int masters = 0;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor& t = params_[i].tensor;
    index_.emplace(t.storage_id(), i);
    // allocate_training_state gives a master weight to each 16-bit parameter, in order.
    master_of_.push_back(dtype_size(t.dtype()) < 4 && owns(i) ? masters++ : -1);
    f16 = f16 || t.dtype() == DType::f16;
  }
  if (masters != static_cast<int>(state_.master_weights.size()))
    throw Error("optimizer: master weights do not match the 16-bit parameters");
  scaling_ = options.loss_scaling == LossScaling::dynamic ||
             (options.loss_scaling == LossScaling::automatic && f16);
}

Training make_training(const Module& model, const OptimizerOptions& options) {
  TrainingState s = allocate_training_state(model, options.kind);
  return Training{std::move(s.gradients), Optimizer(model, options, std::move(s.optimizer))};
}

bool Optimizer::decays(const Tensor& param) const {
  auto it = index_.find(param.storage_id());
  return it != index_.end() && decay_[it->second];
}

// The sum of the squares of every gradient, in double, in parameter order. The workspace (f64
// slots for the cuda backend's per-tensor sums and partials) is allocated on every device, as
// every op's is, so that a meta run predicts the step's memory.
double Optimizer::global_squares(Gradients& grads) const {
  const auto count = static_cast<std::int64_t>(grads.size());
  // Doubles, in an f32 tensor of twice the elements (f64 tensors are for cpu references only).
  Tensor ws =
      Tensor::empty(params_[0].tensor.arena_ptr(), {2 * (count + kernels::kSumSquaresBlocks)},
                    DType::f32, Category::workspace);
  const Backend* b = update_backend(grads[0]);
  if (!b) return 0.0;
  if (!sharded()) return b->sum_squares(grads.tensors(), ws);
  // Each tensor's sum by one rank, then every rank adds them in parameter order: the unsharded
  // sum's very additions (x + 0 is x: the ranks that did not sum a tensor add zeros).
  std::vector<double> per(params_.size(), 0.0);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (!shard_.layout.whole(i)) gather_for_norm(i, grads[i]);
    if (shard_.layout.norm_rank(i) == shard_.layout.rank()) per[i] = b->sum_squares({grads[i]}, ws);
  }
  shard_.comm->all_reduce_sum(per);
  double squares = 0;
  for (const double v : per) squares += v;
  return squares;
}

void Optimizer::gather_for_norm(std::size_t i, Tensor& grad) const {
  const ShardLayout& layout = shard_.layout;
  const int to = layout.norm_rank(i), me = layout.rank();
  const std::size_t es = dtype_size(grad.dtype());
  const bool host = grad.device().is_cpu();
  // The gradient's elements outside this rank's piece are stale after the exchange: the summer
  // receives the others' pieces into them.
  char* data = static_cast<char*>(grad.data());
  std::vector<unsigned char> staging;
  // Every rank walks the same (piece, rank) sequence, so the blocking transfers pair up in order.
  for (int r = 0; r < layout.world(); ++r) {
    const ElementRange p = layout.piece(i, r);
    if (r == to || p.empty() || (me != r && me != to)) continue;
    char* at = data + static_cast<std::size_t>(p.first) * es;
    const std::size_t bytes = static_cast<std::size_t>(p.size()) * es;
    if (!host) staging.resize(bytes);
    void* buf = host ? static_cast<void*>(at) : staging.data();
    if (me == r) {
      if (!host) cuda_memcpy_d2h(buf, at, bytes);
      shard_.comm->send(buf, bytes, to);
    } else {
      shard_.comm->receive(buf, bytes, r);
      if (!host) cuda_memcpy_h2d(at, buf, bytes);
    }
  }
}

double Optimizer::step(Gradients& grads, double lr, double grad_scale,
                       const std::function<void(std::size_t)>& updated) {
  if (grads.size() != params_.size())
    throw Error("optimizer: " + std::to_string(grads.size()) + " gradients for " +
                std::to_string(params_.size()) + " parameters");
  ++steps_;
  last_skipped_ = false;
  if (params_.empty()) return 0.0;
  // grad_scale also removes the loss scale the backward multiplied in.
  const double unscale = grad_scale / loss_scale();
  const double squares = global_squares(grads);
  if (params_[0].tensor.device().is_meta()) return 0.0;
  const double norm = std::sqrt(squares) * unscale;
  if (scaling_ && !scaler_.update(norm)) {
    ++state_.skipped_steps;
    last_skipped_ = true;
    return norm;
  }
  double scale = unscale;
  if (options_.clip > 0 && norm > options_.clip) scale *= options_.clip / norm;
  if (!master_ready_) {
    for (std::size_t i = 0; i < params_.size(); ++i) {
      if (master_of_[i] < 0) continue;
      const Tensor& p = params_[i].tensor;
      update_backend(p)->copy_to_master(master_of(i), p, piece_[i].first);
    }
    master_ready_ = true;
  }
  // AdamW's bias corrections count the updates applied, not the skipped steps.
  const long applied = steps_ - state_.skipped_steps;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (!owns(i)) continue;
    update(i, grads[i], lr, scale, applied);
    if (updated) updated(i);
  }
  return norm;
}

Tensor& Optimizer::master_of(std::size_t i) {
  return state_.master_weights[static_cast<std::size_t>(master_of_[i])];
}

void Optimizer::update(std::size_t i, Tensor& g, double lr, double scale, long applied_steps) {
  Tensor& p = params_[i].tensor;
  const Backend& b = *update_backend(p);  // not on meta: step() returned before
  const float wd = decay_[i] ? static_cast<float>(options_.weight_decay) : 0.0f;
  Tensor* master = master_of_[i] >= 0 ? &master_of(i) : nullptr;
  if (options_.kind == OptimizerKind::sgd) {
    b.sgd_step(p, g, piece_[i].first, state(i, 0), master, static_cast<float>(lr),
               static_cast<float>(options_.momentum), wd, static_cast<float>(scale));
    return;
  }
  kernels::AdamwHyper h;
  h.lr = static_cast<float>(lr);
  h.beta1 = static_cast<float>(options_.beta1);
  h.beta2 = static_cast<float>(options_.beta2);
  h.eps = static_cast<float>(options_.eps);
  h.weight_decay = wd;
  h.grad_scale = static_cast<float>(scale);
  h.step = applied_steps;
  b.adamw_step(p, g, piece_[i].first, state(i, 0), state(i, 1), master, h);
}

std::vector<StateSlot> Optimizer::state_slots() const {
  std::vector<StateSlot> out;
  const bool adamw = options_.kind == OptimizerKind::adamw;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const std::string& name = params_[i].name;
    const Tensor& p = params_[i].tensor;
    const bool mine = owns(i);
    const auto slot = [&](const std::string& key, const Tensor* t) {
      out.push_back({key + name, p.shape(), i, mine ? t : nullptr, piece_[i].first});
    };
    if (adamw) {
      slot("optimizer.m.", mine ? &state(i, 0) : nullptr);
      slot("optimizer.v.", mine ? &state(i, 1) : nullptr);
    } else {
      slot("optimizer.momentum.", mine ? &state(i, 0) : nullptr);
    }
    if (dtype_size(p.dtype()) < 4) slot("optimizer.master.", mine ? &master_of(i) : nullptr);
  }
  return out;
}

std::vector<std::pair<std::string, Tensor>> Optimizer::named_state() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const StateSlot& s : state_slots())
    if (s.tensor) out.emplace_back(s.name, *s.tensor);
  return out;
}

}  // namespace cugpt
