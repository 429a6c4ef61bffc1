// `cugpt ablate <config> --weights F (--tokens | --text) [--mode zero|mean] [--ref-tokens |
// --ref-text] [--target T [--distractor D] [--position P]] [--layers L] [--no-heads] [--no-mlps]
// [--top N] [--out DIR] [--json]`: zero- or mean-ablates every head (and every MLP) in turn
// (analysis/ablate.h) and prints the largest changes of the loss, or of the target's logit
// (difference) when --target is given; --out writes ablate_heads.png (layers x heads).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "analysis/ablate.h"
#include "tools/analysis_input.h"
#include "tools/batch.h"
#include "tools/commands.h"
#include "tools/options.h"
#include "viz/grid.h"

namespace cugpt::tools {

namespace {

struct AblateCli {
  AnalysisInput in;
  std::string tokens, text, ref_tokens, ref_text, target, distractor, mode = "zero", layers;
  std::int64_t position = -1, top = 10;
  bool no_heads = false, no_mlps = false;
};

int run_ablate(AblateCli& o) {
  if (o.mode != "zero" && o.mode != "mean")
    throw Error("ablate: --mode is zero or mean, not " + o.mode);
  o.in.load();
  const auto ids = o.in.prompt(o.tokens, o.text, "");
  const Batch batch{1, static_cast<std::int64_t>(ids.size()), ids, {}};
  Batch ref;
  const bool has_ref = !o.ref_tokens.empty() || !o.ref_text.empty();
  if (has_ref) {
    if (o.mode != "mean") throw Error("ablate: a reference batch is for --mode mean");
    ref = o.ref_text.empty() ? make_batch(o.in.model->config(), parse_token_rows(o.ref_tokens))
                             : Batch{1, 0, o.in.tok->encode(o.ref_text), {}};
    if (ref.T == 0) ref.T = static_cast<std::int64_t>(ref.tokens.size());
  }
  analysis::Metric m;
  if (!o.target.empty()) {
    const bool as_ids = o.text.empty();
    m = {analysis::Metric::Kind::logit, o.position, o.in.token(o.target, as_ids, "target"),
         o.distractor.empty() ? -1 : o.in.token(o.distractor, as_ids, "distractor")};
  }
  std::vector<std::int64_t> layers;
  if (!o.layers.empty() && o.layers != "all") {
    // Held by name: a range-for over parse_token_rows(...)[0] would walk a row of a temporary
    // destroyed before the loop body runs (every --layers list crashed).
    const auto rows = parse_token_rows(o.layers, "--layers");
    if (rows.size() != 1) throw Error("--layers: one list of layers (no ';')");
    layers.assign(rows[0].begin(), rows[0].end());
  }
  const auto r = analysis::ablate(
      *o.in.model, batch, m, o.mode == "mean" ? analysis::Ablation::mean : analysis::Ablation::zero,
      has_ref ? &ref : nullptr, !o.no_heads, !o.no_mlps, layers);
  const std::string metric =
      m.kind == analysis::Metric::Kind::loss
          ? "loss"
          : "logit('" + o.in.show(m.target) + "')" +
                (m.distractor >= 0 ? " - logit('" + o.in.show(m.distractor) + "')" : "");
  struct Row {
    std::string name;
    double effect;
  };
  std::vector<Row> all;
  for (std::size_t i = 0; i < r.heads.size(); ++i)
    all.push_back({"L" + std::to_string(i / r.H) + "H" + std::to_string(i % r.H), r.heads[i]});
  for (std::size_t i = 0; i < r.mlps.size(); ++i)
    all.push_back({"L" + std::to_string(i) + " MLP", r.mlps[i]});
  std::stable_sort(all.begin(), all.end(), [](const Row& a, const Row& b) {
    return std::fabs(a.effect) > std::fabs(b.effect);
  });
  if (o.in.json) {
    const nlohmann::json j = {
        {"metric", metric},       {"mode", o.mode},   {"baseline", r.baseline}, {"layers", r.L},
        {"heads_per_layer", r.H}, {"heads", r.heads}, {"mlps", r.mlps}};
    std::printf("%s\n", j.dump(1).c_str());
  } else {
    std::printf("%s ablation of %s: baseline %.6f; the largest changes\n", o.mode.c_str(),
                metric.c_str(), r.baseline);
    std::printf("%-8s %12s %12s\n", "part", "change", "ablated");
    for (std::size_t i = 0; i < all.size() && static_cast<std::int64_t>(i) < o.top; ++i)
      std::printf("%-8s %+12.6f %12.6f\n", all[i].name.c_str(), all[i].effect,
                  r.baseline + all[i].effect);
  }
  if (!o.in.out.empty() && !r.heads.empty()) {
    std::vector<std::string> rows, cols;
    for (std::int64_t l = 0; l < r.L; ++l) rows.push_back("layer " + std::to_string(l));
    for (std::int64_t h = 0; h < r.H; ++h) cols.push_back("head " + std::to_string(h));
    viz::write_grid(o.in.path("ablate_heads.png"), r.heads, r.L, r.H, rows, cols,
                    o.mode + " ablation: change of " + metric, {true});
    o.in.commit_out();  // with --no-heads there is no set, and DIR is left as it was
    if (!o.in.json) std::printf("wrote %s/ablate_heads.png\n", o.in.out.c_str());
  }
  return 0;
}

}  // namespace

void add_ablate(CLI::App& app) {
  auto o = std::make_shared<AblateCli>();
  auto* sub =
      app.add_subcommand("ablate", "Zero- or mean-ablate each head and MLP, measure the change");
  o->in.add_options(sub, "Folder for ablate_heads.png", "ablate_heads.png");
  sub->add_option("--tokens", o->tokens, "Prompt ids: \"1,2,3\"");
  sub->add_option("--text", o->text, "Prompt text, encoded by --tokenizer");
  sub->add_option("--mode", o->mode, "zero or mean")->capture_default_str();
  sub->add_option("--ref-tokens", o->ref_tokens, "Reference batch for the means: \"1,2;3,4\"");
  sub->add_option("--ref-text", o->ref_text, "Reference text for the means");
  auto* target =
      sub->add_option("--target", o->target, "Measure this token's logit instead of the loss");
  // Without --target the metric is the loss, which a distractor cannot change: refused rather
  // than ignored.
  sub->add_option("--distractor", o->distractor, "... minus this token's logit (needs --target)")
      ->needs(target);
  sub->add_option("--position", o->position, "Position of the logit (-1: last)")
      ->capture_default_str();
  sub->add_option("--layers", o->layers, "Layers to ablate: \"0,2\" or all");
  // Both would leave nothing to ablate: an empty table that looks like a result.
  auto* no_heads = sub->add_flag("--no-heads", o->no_heads, "Skip the heads");
  sub->add_flag("--no-mlps", o->no_mlps, "Skip the MLPs")->excludes(no_heads);
  sub->add_option("--top", o->top, "Rows of the table")
      ->check(opt::count(1, opt::kMaxTokens))
      ->capture_default_str();
  on_run(sub, [o] { return run_ablate(*o); });
}

}  // namespace cugpt::tools
