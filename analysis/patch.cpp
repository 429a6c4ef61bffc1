#include "analysis/patch.h"

#include <cmath>

#include "analysis/gpt_parts.h"

namespace cugpt::analysis {

PatchResult activation_patching(Model& model, const Batch& clean, const Batch& corrupted,
                                const Metric& metric) {
  const GptParts p = gpt_parts(model, "patch");
  if (clean.B != 1 || corrupted.B != 1) throw Error("patch: one clean and one corrupted sequence");
  if (clean.T != corrupted.T)
    throw Error("patch: the clean prompt has " + std::to_string(clean.T) +
                " tokens, the corrupted " + std::to_string(corrupted.T) + "; they must be equal");
  if (metric.kind != Metric::Kind::logit) throw Error("patch: the metric is a logit difference");
  check_metric(metric, clean, p.V);
  PatchResult r;
  r.rows = p.L + 1, r.T = clean.T, r.L = p.L, r.H = p.H, r.row_names = p.resid;
  Hooks saved;
  std::vector<std::string> names = p.resid;
  names.insert(names.end(), p.heads.begin(), p.heads.end());
  saved.capture_outputs(names);
  r.clean = evaluate(metric, clean, run_logits(model, saved, clean), p.V);
  Hooks none;
  r.corrupted = evaluate(metric, corrupted, run_logits(model, none, corrupted), p.V);
  const double gap = r.clean - r.corrupted;
  auto restored = [&](const Write& w) {
    Hooks hooks;
    hooks.write(w);
    const double v = evaluate(metric, corrupted, run_logits(model, hooks, corrupted), p.V);
    return gap == 0.0 ? NAN : (v - r.corrupted) / gap;
  };
  for (std::int64_t l = 0; l < r.rows; ++l)
    for (std::int64_t t = 0; t < r.T; ++t)
      r.resid.push_back(restored({p.resid[l], t, 0, -1, need(saved, p.resid[l]).values}));
  for (std::int64_t l = 0; l < p.L; ++l)
    for (std::int64_t h = 0; h < p.H; ++h)
      r.heads.push_back(restored({p.heads[l], -1, h * p.D, p.D, need(saved, p.heads[l]).values}));
  return r;
}

}  // namespace cugpt::analysis
