#include "nn/optimizer.h"

#include <cmath>
#include <set>

#include "kernels/adamw.h"

namespace cugpt {

namespace {
void collect_no_decay(const Module& m, std::set<const void*>& out) {
  const std::string type = m.type_name();
  if (type == "LayerNorm" || type == "Embedding")
    for (const auto& [name, t] : m.own_parameters()) out.insert(t.storage_id());
  for (const auto& [name, child] : m.children()) collect_no_decay(*child, out);
}

template <typename F>
void by_dtype(const Tensor& t, F&& f) {
  if (t.dtype() == DType::f32) return f(float{});
  if (t.dtype() == DType::f64) return f(double{});
  throw Error(std::string("optimizer: the cpu update runs in f32 or f64, not ") +
              dtype_name(t.dtype()));
}
}  // namespace

Optimizer::Optimizer(const Module& model, const OptimizerOptions& options) : options_(options) {
  if (options.kind == OptimizerKind::none) throw Error("optimizer: kind none cannot step");
  for (auto& p : model.named_parameters())
    if (p.trainable) params_.push_back(p);
  state_ = allocate_training_state(model, options.kind);
  std::set<const void*> no_decay;
  collect_no_decay(model, no_decay);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor& t = params_[i].tensor;
    decay_.push_back(t.ndim() >= 2 && !no_decay.count(t.storage_id()));
    index_.emplace(t.storage_id(), i);
  }
}

Tensor& Optimizer::grad(const Tensor& param) {
  auto it = index_.find(param.storage_id());
  if (it == index_.end()) throw Error("optimizer: tensor is not a trainable parameter");
  return state_.gradients[it->second];
}

bool Optimizer::decays(const Tensor& param) const {
  auto it = index_.find(param.storage_id());
  return it != index_.end() && decay_[it->second];
}

void Optimizer::zero_grad() {
  for (auto& g : state_.gradients)
    if (!g.device().is_meta()) g.zero();
}

double Optimizer::step(double lr, double grad_scale) {
  ++steps_;
  if (params_.empty() || params_[0].tensor.device().is_meta()) return 0.0;
  if (params_[0].tensor.device().is_cuda())
    throw Error("optimizer: the CUDA update is not built yet; train with --device cpu");
  double squares = 0;
  for (auto& g : state_.gradients)
    by_dtype(g, [&](auto zero) {
      using T = decltype(zero);
      squares += kernels::sum_squares_cpu(static_cast<const T*>(g.data()),
                                          static_cast<std::size_t>(g.numel()));
    });
  const double norm = std::sqrt(squares) * grad_scale;
  double scale = grad_scale;
  if (options_.clip > 0 && norm > options_.clip) scale *= options_.clip / norm;

  const int per_param = options_.kind == OptimizerKind::adamw ? 2 : 1;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i].tensor;
    Tensor& g = state_.gradients[i];
    const auto n = static_cast<std::size_t>(p.numel());
    const float wd = decay_[i] ? static_cast<float>(options_.weight_decay) : 0.0f;
    float* s0 = static_cast<float*>(state_.states[per_param * i].data());
    by_dtype(p, [&](auto zero) {
      using T = decltype(zero);
      T* pp = static_cast<T*>(p.data());
      const T* gp = static_cast<const T*>(g.data());
      if (options_.kind == OptimizerKind::adamw) {
        kernels::AdamwHyper h;
        h.lr = static_cast<float>(lr);
        h.beta1 = static_cast<float>(options_.beta1);
        h.beta2 = static_cast<float>(options_.beta2);
        h.eps = static_cast<float>(options_.eps);
        h.weight_decay = wd;
        h.grad_scale = static_cast<float>(scale);
        h.step = steps_;
        float* s1 = static_cast<float*>(state_.states[per_param * i + 1].data());
        kernels::adamw_step_cpu(pp, gp, s0, s1, n, h);
      } else {
        kernels::sgd_step_cpu(pp, gp, s0, n, static_cast<float>(lr),
                              static_cast<float>(options_.momentum), wd, static_cast<float>(scale));
      }
    });
  }
  return norm;
}

std::vector<std::pair<std::string, Tensor>> Optimizer::named_state() const {
  std::vector<std::pair<std::string, Tensor>> out;
  const bool adamw = options_.kind == OptimizerKind::adamw;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const std::string& name = params_[i].name;
    if (adamw) {
      out.emplace_back("optimizer.m." + name, state_.states[2 * i]);
      out.emplace_back("optimizer.v." + name, state_.states[2 * i + 1]);
    } else {
      out.emplace_back("optimizer.momentum." + name, state_.states[i]);
    }
  }
  return out;
}

}  // namespace cugpt
