#include "analysis/lens.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "analysis/gpt_parts.h"
#include "analysis/metric.h"
#include "nn/ops.h"

namespace cugpt::analysis {

LensResult logit_lens(Model& model, const Batch& batch, std::int64_t k, std::int32_t target) {
  const GptParts p = gpt_parts(model, "lens");
  if (batch.B != 1) throw Error("lens: one sequence at a time");
  if (k < 1) throw Error("lens: --top must be at least 1");
  if (target >= p.V)
    throw Error("lens: target token " + std::to_string(target) + " out of range (vocabulary " +
                std::to_string(p.V) + ")");
  Hooks hooks;
  hooks.capture_outputs(p.resid);
  run_logits(model, hooks, batch);
  LensResult r;
  r.rows = p.L + 1, r.T = batch.T, r.k = std::min(k, p.V), r.row_names = p.resid;
  const std::int64_t T = batch.T, V = p.V;
  // The readout runs on the model's device with the model's own ops, so the last row is the
  // model's output exactly.
  std::vector<std::vector<double>> logprobs(static_cast<std::size_t>(r.rows));
  for (std::int64_t l = 0; l < r.rows; ++l) {
    const Capture& c = need(hooks, p.resid[l]);
    Tensor x =
        Tensor::empty(p.unembed->arena_ptr(), c.shape, p.unembed->dtype(), Category::activation);
    x.copy_from_floats(c.values);
    const Tensor h = ops::layernorm(x, *p.ln_f_weight, *p.ln_f_bias, p.eps);
    const std::vector<float> logits = ops::linear(h, *p.unembed, p.unembed_bias, false).to_floats();
    auto& lp = logprobs[static_cast<std::size_t>(l)];
    for (std::int64_t t = 0; t < T; ++t) {
      const std::vector<double> row = log_softmax(&logits[t * V], V);
      lp.insert(lp.end(), row.begin(), row.end());
    }
  }
  const std::vector<double>& last = logprobs.back();
  for (std::int64_t t = 0; t < T; ++t) {
    if (target >= 0) {
      r.targets.push_back(target);
    } else {
      const auto* row = &last[t * V];
      r.targets.push_back(static_cast<std::int32_t>(std::max_element(row, row + V) - row));
    }
  }
  std::vector<std::int32_t> order(static_cast<std::size_t>(V));
  for (std::int64_t l = 0; l < r.rows; ++l)
    for (std::int64_t t = 0; t < T; ++t) {
      const double* row = &logprobs[l][t * V];
      const double mine = row[r.targets[t]];
      std::int64_t rank = 0;
      for (std::int64_t v = 0; v < V; ++v)
        if (row[v] > mine || (row[v] == mine && v < r.targets[t])) ++rank;
      r.target_logprob.push_back(static_cast<float>(mine));
      r.target_rank.push_back(rank);
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + r.k, order.end(),
                        [&](std::int32_t a, std::int32_t b) {
                          return row[a] > row[b] || (row[a] == row[b] && a < b);
                        });
      for (std::int64_t i = 0; i < r.k; ++i) {
        r.top_ids.push_back(order[i]);
        r.top_probs.push_back(static_cast<float>(std::exp(row[order[i]])));
      }
    }
  return r;
}

}  // namespace cugpt::analysis
