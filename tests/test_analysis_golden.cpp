// The analyses against PyTorch: lens, zero and mean ablations (loss and logit difference),
// activation patching, direct logit attribution and pattern scores on the tiny GPT configs,
// with the weights of tests/data/golden/<config>/, against the numbers
// scripts/make_golden_internals.py computed in float64. f32 here: agreement to 1e-5 (relative to
// the value where it is larger than 1).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "analysis/ablate.h"
#include "analysis/attribution.h"
#include "analysis/lens.h"
#include "analysis/patch.h"
#include "analysis/patterns.h"
#include "models/factory.h"
#include "models/weights.h"

namespace cugpt::analysis {
namespace {

const std::string kGolden = std::string(CUGPT_SOURCE_DIR) + "/tests/data/golden/";
constexpr double kTol = 1e-5;

struct Golden {
  ModelConfig config;
  std::shared_ptr<Arena> arena;
  std::unique_ptr<Model> model;
  nlohmann::json j;
  Batch batch, reference, corrupted;
};

Batch one(const std::vector<std::int32_t>& tokens) {
  return Batch{1, static_cast<std::int64_t>(tokens.size()), tokens, {}};
}

Golden load(const std::string& name) {
  Golden g;
  g.config = load_config(name);
  g.arena = Arena::create(Device::cpu(), 256ull << 20);
  g.model = build_model(g.config, g.arena, DType::f32);
  load_weights(*g.model, kGolden + name + "/weights.safetensors");
  std::ifstream in(kGolden + "internals/" + name + ".json");
  g.j = nlohmann::json::parse(in);
  g.batch = one(g.j.at("tokens").get<std::vector<std::int32_t>>());
  g.corrupted = one(g.j.at("corrupted").get<std::vector<std::int32_t>>());
  const auto rows = g.j.at("reference").get<std::vector<std::vector<std::int32_t>>>();
  g.reference.B = static_cast<std::int64_t>(rows.size());
  g.reference.T = static_cast<std::int64_t>(rows[0].size());
  for (const auto& r : rows)
    g.reference.tokens.insert(g.reference.tokens.end(), r.begin(), r.end());
  return g;
}

// Largest |got - want| / max(1, |want|), printed with its label.
template <typename A>
double worst(const std::string& what, const A& got, const std::vector<double>& want) {
  EXPECT_EQ(got.size(), want.size()) << what;
  double w = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(got.size(), want.size()); ++i)
    w = std::max(
        w, std::fabs(static_cast<double>(got[i]) - want[i]) / std::max(1.0, std::fabs(want[i])));
  std::printf("  %-28s max error %.3g\n", what.c_str(), w);
  return w;
}

std::vector<double> flat(const nlohmann::json& j) {
  std::vector<double> out;
  if (j.is_array() && !j.empty() && j[0].is_array()) {
    for (const auto& row : j)
      for (double v : row) out.push_back(v);
  } else {
    for (double v : j) out.push_back(v);
  }
  return out;
}

class GoldenInternals : public ::testing::TestWithParam<const char*> {};

TEST_P(GoldenInternals, LensMatchesPyTorch) {
  Golden g = load(GetParam());
  const std::int32_t target = g.j.at("target");
  const LensResult r = logit_lens(*g.model, g.batch, 3, target);
  EXPECT_LE(worst("lens log-probability", r.target_logprob, flat(g.j["lens"]["logprob"])), kTol);
  std::vector<double> rank(r.target_rank.begin(), r.target_rank.end());
  EXPECT_EQ(rank, flat(g.j["lens"]["rank"]));
}

TEST_P(GoldenInternals, AblationsMatchPyTorch) {
  Golden g = load(GetParam());
  const Metric loss{Metric::Kind::loss, -1, -1, -1};
  const Metric logit{Metric::Kind::logit, -1, g.j.at("target"), g.j.at("distractor")};
  for (const auto& [kind, kname] : {std::pair{Ablation::zero, "zero"}, {Ablation::mean, "mean"}})
    for (const auto& [metric, mname] : {std::pair{loss, "loss"}, {logit, "logit"}}) {
      const AblationResult r = ablate(*g.model, g.batch, metric, kind, &g.reference, true, true);
      const nlohmann::json& w = g.j["ablation"][std::string(kname) + "_" + mname];
      const std::string label = std::string(kname) + " ablation, " + mname;
      EXPECT_NEAR(r.baseline, w["baseline"].get<double>(), kTol) << label;
      EXPECT_LE(worst(label + ": heads", r.heads, flat(w["heads"])), kTol);
      EXPECT_LE(worst(label + ": MLPs", r.mlps, flat(w["mlps"])), kTol);
    }
}

TEST_P(GoldenInternals, PatchingMatchesPyTorch) {
  Golden g = load(GetParam());
  const Metric logit{Metric::Kind::logit, -1, g.j.at("target"), g.j.at("distractor")};
  const PatchResult r = activation_patching(*g.model, g.batch, g.corrupted, logit);
  const nlohmann::json& w = g.j["patching"];
  EXPECT_NEAR(r.clean, w["clean"].get<double>(), kTol);
  EXPECT_NEAR(r.corrupted, w["corrupted"].get<double>(), kTol);
  EXPECT_LE(worst("patching: residual", r.resid, flat(w["resid"])), kTol);
  EXPECT_LE(worst("patching: heads", r.heads, flat(w["heads"])), kTol);
}

TEST_P(GoldenInternals, AttributionMatchesPyTorch) {
  Golden g = load(GetParam());
  const Attribution a =
      direct_logit_attribution(*g.model, g.batch, g.j.at("target"), g.j.at("distractor"));
  const nlohmann::json& w = g.j["attribution"];
  EXPECT_NEAR(a.embeddings, w["embeddings"].get<double>(), kTol);
  EXPECT_NEAR(a.constant, w["constant"].get<double>(), kTol);
  EXPECT_NEAR(a.logit, w["logit"].get<double>(), kTol);
  EXPECT_LE(worst("attribution: heads", a.heads, flat(w["heads"])), kTol);
  EXPECT_LE(worst("attribution: projection bias", a.attn_bias, flat(w["attn_bias"])), kTol);
  EXPECT_LE(worst("attribution: MLPs", a.mlps, flat(w["mlps"])), kTol);
}

TEST_P(GoldenInternals, PatternScoresMatchPyTorch) {
  Golden g = load(GetParam());
  const PatternScores s =
      pattern_scores(*g.model, g.j["patterns"]["tokens"].get<std::vector<std::int32_t>>());
  EXPECT_LE(worst("previous-token scores", s.previous, flat(g.j["patterns"]["previous"])), kTol);
  EXPECT_LE(worst("induction scores", s.induction, flat(g.j["patterns"]["induction"])), kTol);
}

INSTANTIATE_TEST_SUITE_P(Tiny, GoldenInternals, ::testing::Values("gpt-day18-tiny", "gpt2-tiny"));

}  // namespace
}  // namespace cugpt::analysis
