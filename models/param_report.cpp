#include "models/param_report.h"

#include <set>
#include <unordered_map>

#include "models/factory.h"
#include "nn/training_state.h"

namespace cugpt {

namespace {

// Collects the storage of every LayerNorm parameter, walking the module tree.
void layernorm_tensors(const Module& m, std::set<const void*>& out) {
  if (m.type_name() == "LayerNorm")
    for (const auto& [name, t] : m.own_parameters()) out.insert(t.storage_id());
  for (const auto& [name, child] : m.children()) layernorm_tensors(*child, out);
}

void walk_tree(const Module& m, const std::string& path, int depth,
               const std::unordered_map<const void*, std::string>& first_name,
               std::vector<ParamReport::TreeNode>& out) {
  ParamReport::TreeNode node;
  node.depth = depth;
  node.name = path;
  node.type = m.type_name();
  const std::string prefix = path.empty() ? "" : path + ".";
  for (const auto& p : m.named_parameters()) {
    // A tied tensor counts in the subtree where it was first registered.
    if (first_name.at(p.tensor.storage_id()) != prefix + p.name) continue;
    node.count += p.tensor.numel();
    node.bytes += p.tensor.allocated_bytes();
  }
  out.push_back(node);
  for (const auto& [name, child] : m.children())
    walk_tree(*child, prefix + name, depth + 1, first_name, out);
}

}  // namespace

ParamReport make_param_report(const ModelConfig& config) {
  ParamReport r;
  r.config = config;
  auto arena = Arena::create(Device::meta(), 1ull << 50);
  auto model = build_model(config, arena, DType::f32);
  const auto params = model->named_parameters();
  r.total = model->parameter_count();
  r.trainable = model->trainable_count();

  std::int64_t running = 0;
  int index = 0;
  std::unordered_map<const void*, std::string> first_name;
  for (const auto& p : params) {
    running += p.tensor.numel();
    r.tensors.push_back({index++, p.name, p.tensor.shape().vec(), p.tensor.numel(), running});
    first_name.emplace(p.tensor.storage_id(), p.name);
  }

  for (const auto& s : model->sections()) {
    ParamReport::Row row{s.label, s.analytic, 0, s.note};
    for (const auto& p : params)
      for (const auto& prefix : s.prefixes)
        if (p.name.rfind(prefix, 0) == 0) row.exact += p.tensor.numel();
    r.analytic_total += s.analytic;
    r.rows.push_back(row);
  }

  std::set<const void*> ln;
  layernorm_tensors(*model, ln);
  for (const auto& p : params) {
    if (ln.count(p.tensor.storage_id())) {
      r.layernorm += p.tensor.numel();
    } else if (p.tensor.ndim() == 1) {
      r.biases += p.tensor.numel();
    }
  }
  r.other = r.total - r.analytic_total - r.biases - r.layernorm;

  walk_tree(*model, "", 0, first_name, r.tree);

  for (DType dtype : {DType::f32, DType::bf16, DType::f16}) {
    auto a = Arena::create(Device::meta(), 1ull << 50);
    auto m = build_model(config, a, dtype);
    ParamReport::Bytes b;
    b.dtype = dtype;
    b.parameters = a->in_use();
    const TrainingState state = allocate_training_state(*m, OptimizerKind::adamw);
    b.train_adamw = a->in_use();
    b.train_categories = a->stats().current;
    r.bytes.push_back(b);
  }
  return r;
}

}  // namespace cugpt
