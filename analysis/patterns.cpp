#include "analysis/patterns.h"

#include "analysis/gpt_parts.h"

namespace cugpt::analysis {

std::vector<std::int32_t> repeated_random_tokens(const std::vector<std::int32_t>& pool,
                                                 std::int64_t n, std::uint64_t seed) {
  if (pool.empty() || n < 2) throw Error("patterns: need a vocabulary and at least 2 tokens");
  std::vector<std::int32_t> out;
  std::uint64_t s = seed * 2862933555777941757ull + 3037000493ull;
  for (std::int64_t i = 0; i < n; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;  // Knuth's MMIX LCG
    out.push_back(pool[(s >> 33) % pool.size()]);
  }
  out.insert(out.end(), out.begin(), out.begin() + n);
  return out;
}

std::vector<std::int32_t> repeated_random_tokens(std::int64_t vocab, std::int64_t n,
                                                 std::uint64_t seed) {
  if (vocab < 1 || vocab > (std::int64_t{1} << 31) - 1)
    throw Error("patterns: need a vocabulary and at least 2 tokens");
  std::vector<std::int32_t> all(static_cast<std::size_t>(vocab));
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int32_t>(i);
  return repeated_random_tokens(all, n, seed);
}

PatternScores pattern_scores(Model& model, const std::vector<std::int32_t>& tokens) {
  const GptParts p = gpt_parts(model, "patterns");
  const std::int64_t T = static_cast<std::int64_t>(tokens.size()), n = T / 2;
  if (T < 4 || T % 2 != 0)
    throw Error("patterns: a sequence repeated once (an even number of tokens, at least 4)");
  for (std::int64_t i = 0; i < n; ++i)
    if (tokens[i] != tokens[i + n]) throw Error("patterns: the second half must repeat the first");
  Batch batch{1, T, tokens, {}};
  Hooks hooks;
  hooks.capture_attention(p.attention);
  run_logits(model, hooks, batch);
  PatternScores s;
  s.L = p.L, s.H = p.H, s.n = n;
  for (std::int64_t l = 0; l < p.L; ++l) {
    const std::vector<float>& a = need(hooks, p.attention[l] + ".probs").values;  // (1, H, T, T)
    for (std::int64_t h = 0; h < p.H; ++h) {
      const float* A = &a[h * T * T];
      double prev = 0.0, ind = 0.0;
      for (std::int64_t i = 1; i < T; ++i) prev += A[i * T + i - 1];
      for (std::int64_t i = n; i < T; ++i) ind += A[i * T + i - n + 1];
      s.previous.push_back(prev / static_cast<double>(T - 1));
      s.induction.push_back(ind / static_cast<double>(n));
    }
  }
  return s;
}

}  // namespace cugpt::analysis
