// `cugpt lens <config> --weights F (--tokens | --text) [--target T] [--top K] [--out DIR]
// [--json]`: the logit lens (analysis/lens.h). Prints per layer and position the top-k tokens
// and the target's rank and probability; with --out writes lens_target_logprob.npy
// (layers + 1, T) and lens.png (the target's probability, layers x positions).
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "analysis/lens.h"
#include "io/npy.h"
#include "tools/analysis_input.h"
#include "tools/commands.h"
#include "tools/options.h"
#include "viz/grid.h"

namespace cugpt::tools {

namespace {

struct LensCli {
  AnalysisInput in;
  std::string tokens, text, target;
  std::int64_t top = 3;
};

int run_lens(LensCli& o) {
  o.in.load();
  const auto ids = o.in.prompt(o.tokens, o.text, "");
  const std::int32_t target =
      o.target.empty() ? -1 : o.in.token(o.target, o.text.empty(), "target");
  const analysis::LensResult r = analysis::logit_lens(
      *o.in.model, Batch{1, static_cast<std::int64_t>(ids.size()), ids, {}}, o.top, target);
  const std::int64_t T = r.T, k = r.k;
  const auto labels = o.in.labels(ids);
  std::vector<std::string> rows = {"embed"};
  for (std::int64_t l = 0; l + 1 < r.rows; ++l) rows.push_back("layer " + std::to_string(l));
  if (o.in.json) {
    nlohmann::json j = {
        {"tokens", ids}, {"labels", labels}, {"rows", rows}, {"targets", r.targets}};
    nlohmann::json cells = nlohmann::json::array();
    for (std::int64_t l = 0; l < r.rows; ++l)
      for (std::int64_t t = 0; t < T; ++t) {
        const std::int64_t i = l * T + t;
        nlohmann::json top = nlohmann::json::array();
        for (std::int64_t j2 = 0; j2 < k; ++j2)
          top.push_back({{"id", r.top_ids[i * k + j2]},
                         {"text", o.in.show(r.top_ids[i * k + j2])},
                         {"p", r.top_probs[i * k + j2]}});
        cells.push_back({{"row", l},
                         {"position", t},
                         {"target_logprob", r.target_logprob[i]},
                         {"target_rank", r.target_rank[i]},
                         {"top", top}});
      }
    j["cells"] = cells;
    std::printf("%s\n", j.dump(1).c_str());
  } else {
    std::printf("logit lens: %lld positions, %lld readouts; target %s\n", static_cast<long long>(T),
                static_cast<long long>(r.rows),
                target >= 0 ? ("'" + o.in.show(target) + "'").c_str()
                            : "= the model's top token at each position");
    for (std::int64_t t = 0; t < T; ++t) {
      std::printf("position %lld '%s' -> target '%s'\n", static_cast<long long>(t),
                  labels[t].c_str(), o.in.show(r.targets[t]).c_str());
      for (std::int64_t l = 0; l < r.rows; ++l) {
        const std::int64_t i = l * T + t;
        std::printf("  %-9s rank %5lld p %.4f  top:", rows[l].c_str(),
                    static_cast<long long>(r.target_rank[i]), std::exp(r.target_logprob[i]));
        for (std::int64_t j2 = 0; j2 < k; ++j2)
          std::printf(" '%s' %.3f", o.in.show(r.top_ids[i * k + j2]).c_str(),
                      r.top_probs[i * k + j2]);
        std::printf("\n");
      }
    }
  }
  if (!o.in.out.empty()) {
    write_npy(o.in.path("lens_target_logprob.npy"), r.target_logprob.data(), {r.rows, T});
    std::vector<double> p;
    for (float v : r.target_logprob) p.push_back(std::exp(v));
    viz::write_grid(o.in.path("lens.png"), p, r.rows, T, rows, labels,
                    "logit lens: probability of the target", {});
    o.in.commit_out();
    if (!o.in.json) std::printf("wrote %s: lens_target_logprob.npy, lens.png\n", o.in.out.c_str());
  }
  return 0;
}

}  // namespace

void add_lens(CLI::App& app) {
  auto o = std::make_shared<LensCli>();
  auto* sub = app.add_subcommand("lens", "Logit lens: each layer's residual stream read as logits");
  o->in.add_options(sub, "Folder for lens_target_logprob.npy and lens.png",
                    "lens_target_logprob.npy");
  sub->add_option("--tokens", o->tokens, "Prompt ids: \"1,2,3\"");
  sub->add_option("--text", o->text, "Prompt text, encoded by --tokenizer");
  sub->add_option("--target", o->target,
                  "Token to follow (an id with --tokens, text with --text); default: the "
                  "model's top token at each position");
  sub->add_option("--top", o->top, "Top tokens to list")
      ->check(opt::count(1, opt::kMaxTokens))
      ->capture_default_str();
  on_run(sub, [o] { return run_lens(*o); });
}

}  // namespace cugpt::tools
