#include "analysis/ablate.h"

#include "analysis/gpt_parts.h"

namespace cugpt::analysis {

AblationResult ablate(Model& model, const Batch& batch, const Metric& metric, Ablation kind,
                      const Batch* reference, bool heads, bool mlps,
                      const std::vector<std::int64_t>& layers) {
  const GptParts p = gpt_parts(model, "ablate");
  check_metric(metric, batch, p.V);
  std::vector<std::int64_t> chosen = layers;
  if (chosen.empty())
    for (std::int64_t l = 0; l < p.L; ++l) chosen.push_back(l);
  AblationResult r;
  r.L = p.L, r.H = p.H;
  Hooks means;
  if (kind == Ablation::mean) {
    std::vector<std::string> names = p.heads;
    names.insert(names.end(), p.mlp.begin(), p.mlp.end());
    means.capture_outputs(names);
    run_logits(model, means, reference ? *reference : batch);
  }
  auto measure = [&](const Write* w) {
    Hooks hooks;
    if (w) hooks.write(*w);
    return evaluate(metric, batch, run_logits(model, hooks, batch), p.V);
  };
  r.baseline = measure(nullptr);
  auto ablated = [&](const std::string& name, std::int64_t col, std::int64_t count) {
    Write w{name, -1, col, count, {}};
    if (kind == Ablation::mean) w.values = mean_row(need(means, name));
    return measure(&w) - r.baseline;
  };
  // Untouched layers read 0 (no change), so the grid stays (L, H).
  if (heads) r.heads.assign(static_cast<std::size_t>(p.L * p.H), 0.0);
  if (mlps) r.mlps.assign(static_cast<std::size_t>(p.L), 0.0);
  for (std::int64_t l : chosen) {
    if (l < 0 || l >= p.L)
      throw Error("ablate: layer " + std::to_string(l) + " out of range (0 to " +
                  std::to_string(p.L - 1) + ")");
    if (heads)
      for (std::int64_t h = 0; h < p.H; ++h)
        r.heads[l * p.H + h] = ablated(p.heads[l], h * p.D, p.D);
    if (mlps) r.mlps[l] = ablated(p.mlp[l], 0, -1);
  }
  return r;
}

}  // namespace cugpt::analysis
