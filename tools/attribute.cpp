// `cugpt attribute <config> --weights F (--tokens | --text) --target T [--distractor D]
// [--position P] [--out DIR] [--json]`: direct logit attribution (analysis/attribution.h) —
// each head's and MLP's share of a logit (difference); the parts sum to the logit. --out writes
// attribute_heads.png (layers x heads).
#include <cstdio>

#include <nlohmann/json.hpp>

#include "analysis/attribution.h"
#include "tools/analysis_input.h"
#include "tools/commands.h"
#include "viz/grid.h"

namespace cugpt::tools {

namespace {

struct AttributeCli {
  AnalysisInput in;
  std::string tokens, text, target, distractor;
  std::int64_t position = -1;
};

int run_attribute(AttributeCli& o) {
  o.in.load();
  const auto ids = o.in.prompt(o.tokens, o.text, "");
  const bool as_ids = o.text.empty();
  const std::int32_t target = o.in.token(o.target, as_ids, "target");
  const std::int32_t distractor =
      o.distractor.empty() ? -1 : o.in.token(o.distractor, as_ids, "distractor");
  const auto a = analysis::direct_logit_attribution(
      *o.in.model, Batch{1, static_cast<std::int64_t>(ids.size()), ids, {}}, target, distractor,
      o.position);
  const std::string metric = "logit('" + o.in.show(target) + "')" +
                             (distractor >= 0 ? " - logit('" + o.in.show(distractor) + "')" : "");
  if (o.in.json) {
    const nlohmann::json j = {
        {"metric", metric},           {"logit", a.logit},       {"total", a.total},
        {"embeddings", a.embeddings}, {"constant", a.constant}, {"heads", a.heads},
        {"attn_bias", a.attn_bias},   {"mlps", a.mlps},         {"layers", a.L},
        {"heads_per_layer", a.H}};
    std::printf("%s\n", j.dump(1).c_str());
  } else {
    std::printf("direct logit attribution of %s = %.6f (parts sum to %.6f)\n", metric.c_str(),
                a.logit, a.total);
    std::printf("  %-22s %+10.4f\n  %-22s %+10.4f\n", "embeddings", a.embeddings,
                "ln_f shift + lm bias", a.constant);
    for (std::int64_t l = 0; l < a.L; ++l) {
      std::printf("  layer %-3lld heads", static_cast<long long>(l));
      for (std::int64_t h = 0; h < a.H; ++h) std::printf(" %+8.4f", a.heads[l * a.H + h]);
      std::printf("\n  layer %-3lld proj bias %+8.4f   MLP %+8.4f\n", static_cast<long long>(l),
                  a.attn_bias[l], a.mlps[l]);
    }
  }
  if (!o.in.out.empty()) {
    std::vector<std::string> rows, cols;
    for (std::int64_t l = 0; l < a.L; ++l) rows.push_back("layer " + std::to_string(l));
    for (std::int64_t h = 0; h < a.H; ++h) cols.push_back("head " + std::to_string(h));
    viz::write_grid(o.in.path("attribute_heads.png"), a.heads, a.L, a.H, rows, cols,
                    "direct attribution of " + metric, {true});
    o.in.commit_out();
    if (!o.in.json) std::printf("wrote %s/attribute_heads.png\n", o.in.out.c_str());
  }
  return 0;
}

}  // namespace

void add_attribute(CLI::App& app) {
  auto o = std::make_shared<AttributeCli>();
  auto* sub = app.add_subcommand("attribute", "Direct logit attribution to each head and MLP");
  o->in.add_options(sub, "Folder for attribute_heads.png", "attribute_heads.png");
  sub->add_option("--tokens", o->tokens, "Prompt ids: \"1,2,3\"");
  sub->add_option("--text", o->text, "Prompt text, encoded by --tokenizer");
  sub->add_option("--target", o->target, "Token whose logit is attributed")->required();
  sub->add_option("--distractor", o->distractor, "... minus this token's logit");
  sub->add_option("--position", o->position, "Position (-1: last)")->capture_default_str();
  on_run(sub, [o] { return run_attribute(*o); });
}

}  // namespace cugpt::tools
