// `cugpt patterns <config> --weights F [--length N] [--seed S] [--draw-from FILE] [--out DIR]
// [--json]`: the induction test (analysis/patterns.h): previous-token and induction scores per
// head on N random tokens repeated once (drawn from the whole vocabulary, or from the ids FILE's
// text encodes to); --out writes patterns_previous.png and patterns_induction.png.
#include <algorithm>
#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>

#include "analysis/patterns.h"
#include "io/input_file.h"
#include "tools/analysis_input.h"
#include "tools/commands.h"
#include "tools/options.h"
#include "viz/grid.h"

namespace cugpt::tools {

namespace {

struct PatternsCli {
  AnalysisInput in;
  std::int64_t length = 0;  // 0: as long as the position table allows, at most 50
  std::uint64_t seed = 0;
  std::string draw_from;  // a text whose distinct ids the random tokens are drawn from
};

// The distinct ids of a text file (at most 64 MiB), encoded by the analysis tokenizer.
std::vector<std::int32_t> ids_of_file(const AnalysisInput& in, const std::string& path) {
  const std::string text = read_regular_file("--draw-from", path, 64ull << 20);
  const std::vector<std::int32_t> ids = in.tok->encode(text);
  const std::set<std::int32_t> distinct(ids.begin(), ids.end());
  if (distinct.size() < 2)
    throw Error("--draw-from '" + path + "': its text has fewer than 2 distinct tokens");
  return {distinct.begin(), distinct.end()};
}

int run_patterns(PatternsCli& o) {
  o.in.load();
  const ModelConfig& c = o.in.model->config();
  const std::int64_t n = o.length > 0 ? o.length : std::min<std::int64_t>(50, c.max_sequence() / 2);
  if (2 * n > c.max_sequence())
    throw Error("patterns: 2 x " + std::to_string(n) + " tokens exceed " + c.name + "'s " +
                std::to_string(c.max_sequence()) + " positions");
  const auto tokens =
      o.draw_from.empty()
          ? analysis::repeated_random_tokens(c.vocab_size, n, o.seed)
          : analysis::repeated_random_tokens(ids_of_file(o.in, o.draw_from), n, o.seed);
  const auto s = analysis::pattern_scores(*o.in.model, tokens);
  if (o.in.json) {
    const nlohmann::json j = {{"length", n},
                              {"seed", o.seed},
                              {"draw_from", o.draw_from},
                              {"layers", s.L},
                              {"heads_per_layer", s.H},
                              {"previous", s.previous},
                              {"induction", s.induction}};
    std::printf("%s\n", j.dump(1).c_str());
  } else {
    std::printf("%lld random tokens%s repeated once (seed %llu): attention scores per head\n",
                static_cast<long long>(n),
                o.draw_from.empty() ? "" : (" of " + o.draw_from + "'s").c_str(),
                static_cast<unsigned long long>(o.seed));
    std::printf("%-6s %-5s %10s %10s\n", "layer", "head", "previous", "induction");
    for (std::int64_t l = 0; l < s.L; ++l)
      for (std::int64_t h = 0; h < s.H; ++h)
        std::printf("%-6lld %-5lld %10.4f %10.4f\n", static_cast<long long>(l),
                    static_cast<long long>(h), s.previous[l * s.H + h], s.induction[l * s.H + h]);
    const auto best = [&](const std::vector<double>& v) {
      const std::int64_t i = std::max_element(v.begin(), v.end()) - v.begin();
      return "L" + std::to_string(i / s.H) + "H" + std::to_string(i % s.H);
    };
    std::printf("strongest previous-token head %s, strongest induction head %s\n",
                best(s.previous).c_str(), best(s.induction).c_str());
  }
  if (!o.in.out.empty()) {
    std::vector<std::string> rows, cols;
    for (std::int64_t l = 0; l < s.L; ++l) rows.push_back("layer " + std::to_string(l));
    for (std::int64_t h = 0; h < s.H; ++h) cols.push_back("head " + std::to_string(h));
    viz::write_grid(o.in.path("patterns_previous.png"), s.previous, s.L, s.H, rows, cols,
                    "previous-token score", {});
    viz::write_grid(o.in.path("patterns_induction.png"), s.induction, s.L, s.H, rows, cols,
                    "induction score", {});
    o.in.commit_out();
    if (!o.in.json)
      std::printf("wrote %s: patterns_previous.png, patterns_induction.png\n", o.in.out.c_str());
  }
  return 0;
}

}  // namespace

void add_patterns(CLI::App& app) {
  auto o = std::make_shared<PatternsCli>();
  auto* sub = app.add_subcommand("patterns", "Previous-token and induction scores of every head");
  o->in.add_options(sub, "Folder for patterns_previous.png and patterns_induction.png",
                    "patterns_previous.png");
  sub->add_option("--length", o->length, "Random tokens before the repeat (0: up to 50)")
      ->check(opt::count(0, opt::kMaxTokens))
      ->capture_default_str();
  sub->add_option("--seed", o->seed, "Seed of the random tokens")
      ->check(opt::seed())
      ->capture_default_str();
  sub->add_option("--draw-from", o->draw_from,
                  "Draw the random tokens from the ids this text file encodes to (default: the "
                  "whole vocabulary)");
  on_run(sub, [o] { return run_patterns(*o); });
}

}  // namespace cugpt::tools
