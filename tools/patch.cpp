// `cugpt patch <config> --weights F (--clean-tokens | --clean-text) (--corrupt-tokens |
// --corrupt-text) --target T --distractor D [--position P] [--out DIR] [--json]`: activation
// patching (analysis/patch.h) — the fraction of the clean-vs-corrupted logit difference that
// each residual point x position, and each head, restores; --out writes patch_resid.png and
// patch_heads.png.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "analysis/patch.h"
#include "tools/analysis_input.h"
#include "tools/commands.h"
#include "viz/grid.h"

namespace cugpt::tools {

namespace {

struct PatchCli {
  AnalysisInput in;
  std::string clean_tokens, clean_text, corrupt_tokens, corrupt_text, target, distractor;
  std::int64_t position = -1;
};

int run_patch(PatchCli& o) {
  o.in.load();
  const auto clean = o.in.prompt(o.clean_tokens, o.clean_text, "clean");
  const auto corrupt = o.in.prompt(o.corrupt_tokens, o.corrupt_text, "corrupt");
  const bool as_ids = o.clean_text.empty();
  const analysis::Metric m{analysis::Metric::Kind::logit, o.position,
                           o.in.token(o.target, as_ids, "target"),
                           o.in.token(o.distractor, as_ids, "distractor")};
  auto one = [](const std::vector<std::int32_t>& t) {
    return Batch{1, static_cast<std::int64_t>(t.size()), t, {}};
  };
  const auto r = analysis::activation_patching(*o.in.model, one(clean), one(corrupt), m);
  std::vector<std::string> rows = {"embed"}, heads_rows, head_cols;
  for (std::int64_t l = 0; l < r.L; ++l) {
    rows.push_back("layer " + std::to_string(l));
    heads_rows.push_back("layer " + std::to_string(l));
  }
  for (std::int64_t h = 0; h < r.H; ++h) head_cols.push_back("head " + std::to_string(h));
  const auto labels = o.in.labels(clean);
  if (o.in.json) {
    const nlohmann::json j = {{"clean", r.clean}, {"corrupted", r.corrupted}, {"rows", rows},
                              {"labels", labels}, {"resid", r.resid},         {"heads", r.heads},
                              {"layers", r.L},    {"heads_per_layer", r.H}};
    std::printf("%s\n", j.dump(1).c_str());
  } else {
    std::printf("logit('%s') - logit('%s'): clean %.6f, corrupted %.6f\n",
                o.in.show(m.target).c_str(), o.in.show(m.distractor).c_str(), r.clean, r.corrupted);
    std::printf("fraction restored by patching the residual stream (rows) at each position:\n%-9s",
                "");
    for (const auto& l : labels) std::printf(" %6.6s", l.c_str());
    std::printf("\n");
    for (std::int64_t l = 0; l < r.rows; ++l) {
      std::printf("%-9s", rows[l].c_str());
      for (std::int64_t t = 0; t < r.T; ++t) std::printf(" %6.3f", r.resid[l * r.T + t]);
      std::printf("\n");
    }
    std::printf("fraction restored by patching each head's output (all positions):\n");
    for (std::int64_t l = 0; l < r.L; ++l) {
      std::printf("%-9s", heads_rows[l].c_str());
      for (std::int64_t h = 0; h < r.H; ++h) std::printf(" %6.3f", r.heads[l * r.H + h]);
      std::printf("\n");
    }
  }
  if (!o.in.out.empty()) {
    viz::write_grid(o.in.path("patch_resid.png"), r.resid, r.rows, r.T, rows, labels,
                    "patching the residual stream: fraction restored", {true});
    viz::write_grid(o.in.path("patch_heads.png"), r.heads, r.L, r.H, heads_rows, head_cols,
                    "patching head outputs: fraction restored", {true});
    o.in.commit_out();
    if (!o.in.json) std::printf("wrote %s: patch_resid.png, patch_heads.png\n", o.in.out.c_str());
  }
  return 0;
}

}  // namespace

void add_patch(CLI::App& app) {
  auto o = std::make_shared<PatchCli>();
  auto* sub = app.add_subcommand(
      "patch", "Activation patching from a clean into a corrupted prompt of equal length");
  o->in.add_options(sub, "Folder for patch_resid.png and patch_heads.png", "patch_resid.png");
  sub->add_option("--clean-tokens", o->clean_tokens, "Clean prompt ids");
  sub->add_option("--clean-text", o->clean_text, "Clean prompt text");
  sub->add_option("--corrupt-tokens", o->corrupt_tokens, "Corrupted prompt ids");
  sub->add_option("--corrupt-text", o->corrupt_text, "Corrupted prompt text");
  sub->add_option("--target", o->target, "The clean answer")->required();
  sub->add_option("--distractor", o->distractor, "The corrupted answer")->required();
  sub->add_option("--position", o->position, "Position of the logits (-1: last)")
      ->capture_default_str();
  on_run(sub, [o] { return run_patch(*o); });
}

}  // namespace cugpt::tools
