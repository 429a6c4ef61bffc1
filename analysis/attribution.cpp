#include "analysis/attribution.h"

#include <cmath>

#include "analysis/gpt_parts.h"
#include "analysis/metric.h"

namespace cugpt::analysis {

Attribution direct_logit_attribution(Model& model, const Batch& batch, std::int32_t target,
                                     std::int32_t distractor, std::int64_t position) {
  const GptParts p = gpt_parts(model, "attribute");
  if (batch.B != 1) throw Error("attribute: one sequence at a time");
  Metric m{Metric::Kind::logit, position, target, distractor};
  check_metric(m, batch, p.V);
  const std::int64_t C = p.C, D = p.D, t = position < 0 ? batch.T - 1 : position;
  Hooks hooks;
  std::vector<std::string> names = p.resid;
  names.insert(names.end(), p.heads.begin(), p.heads.end());
  names.insert(names.end(), p.mlp.begin(), p.mlp.end());
  hooks.capture_outputs(names);
  const std::vector<float> logits = run_logits(model, hooks, batch);
  auto row = [&](const std::string& name) { return &need(hooks, name).values[t * C]; };

  // u: the unembedding direction (target minus distractor), scaled by the LayerNorm's gamma.
  std::vector<double> u(static_cast<std::size_t>(C));
  Attribution a;
  a.L = p.L, a.H = p.H;
  for (std::int64_t j = 0; j < C; ++j) {
    double w = p.w_u[target * C + j];
    if (distractor >= 0) w -= p.w_u[distractor * C + j];
    u[j] = w * p.ln_gamma[j];
    a.constant += w * p.ln_beta[j];
  }
  if (!p.b_u.empty()) a.constant += p.b_u[target] - (distractor >= 0 ? p.b_u[distractor] : 0.0f);
  // The final LayerNorm's scale at t, from the residual stream it normalised.
  const float* x = row(p.resid.back());
  double mean = 0.0, var = 0.0;
  for (std::int64_t j = 0; j < C; ++j) mean += x[j];
  mean /= C;
  for (std::int64_t j = 0; j < C; ++j) var += (x[j] - mean) * (x[j] - mean);
  const double inv_sigma = 1.0 / std::sqrt(var / C + p.eps);
  // A part's term: u . (part - mean(part)) / sigma (the LayerNorm's centring is linear).
  auto term = [&](const std::vector<double>& part) {
    double s = 0.0, dot = 0.0, usum = 0.0;
    for (std::int64_t j = 0; j < C; ++j) s += part[j], dot += u[j] * part[j], usum += u[j];
    return (dot - usum * s / C) * inv_sigma;
  };
  auto to_double = [&](const float* v) { return std::vector<double>(v, v + C); };
  a.embeddings = term(to_double(row(p.resid[0])));
  std::vector<double> out(static_cast<std::size_t>(C));
  for (std::int64_t l = 0; l < p.L; ++l) {
    const float* z = row(p.heads[l]);
    const std::vector<float>& w = p.w_o[l];
    for (std::int64_t h = 0; h < p.H; ++h) {
      std::fill(out.begin(), out.end(), 0.0);
      for (std::int64_t i = h * D; i < (h + 1) * D; ++i)
        for (std::int64_t j = 0; j < C; ++j) out[j] += static_cast<double>(z[i]) * w[i * C + j];
      a.heads.push_back(term(out));
    }
    a.attn_bias.push_back(p.b_o[l].empty() ? 0.0 : term(to_double(p.b_o[l].data())));
    a.mlps.push_back(term(to_double(row(p.mlp[l]))));
  }
  a.total = a.embeddings + a.constant;
  for (double v : a.heads) a.total += v;
  for (double v : a.attn_bias) a.total += v;
  for (double v : a.mlps) a.total += v;
  a.logit = evaluate(m, batch, logits, p.V);
  return a;
}

}  // namespace cugpt::analysis
