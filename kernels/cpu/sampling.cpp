// The cpu twin of the device sampler (kernels/sampling.h): the same keys, fixed-point weights
// and targets, with the order made by a sort instead of the device's radix select. Integer sums
// are exact in any order, so this gives the device's ids (the oracle of test_cuda_sampling).
#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "kernels/sampling.h"

namespace cugpt::kernels {

namespace sr = sampling_rule;

std::size_t sampling_workspace_bytes(int B, int V) {
  if (B <= 0 || V <= 0) return 0;
  return static_cast<std::size_t>(B) * static_cast<std::size_t>(V) * sizeof(std::uint64_t);
}

namespace {

// The first element of keys (sorted, largest first) whose cumulative mass is >= need; the last
// one when the total is below need.
std::size_t first_reaching(const std::vector<std::uint64_t>& mass, std::size_t n,
                           std::uint64_t need) {
  std::uint64_t cum = 0;
  for (std::size_t i = 0; i < n; ++i)
    if ((cum += mass[i]) >= need) return i;
  return n - 1;
}

std::int32_t sample_row(const float* x, int V, const SamplingParams& p, std::uint64_t& rng) {
  const int idb = sr::id_bits(V);
  std::vector<std::uint64_t> keys(static_cast<std::size_t>(V));
  for (int i = 0; i < V; ++i) keys[static_cast<std::size_t>(i)] = sr::order_key(x[i], i, idb);
  const std::uint64_t first = *std::max_element(keys.begin(), keys.end());
  if (!(p.temperature > 0)) return sr::key_id(first, idb);
  const double u = sr::next_uniform(rng);
  const float lmax = sr::key_logit(first, idb);
  if (!std::isfinite(lmax)) return sr::key_id(first, idb);

  std::size_t keep = keys.size();
  if (p.top_k > 0 && p.top_k < V) keep = static_cast<std::size_t>(p.top_k);
  const auto mid = keys.begin() + static_cast<std::ptrdiff_t>(keep);
  std::partial_sort(keys.begin(), mid, keys.end(), std::greater<>());
  const int mbits = sr::mass_bits(V);
  std::vector<std::uint64_t> mass(keep);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < keep; ++i)
    total += mass[i] = sr::weight_mass(sr::key_logit(keys[i], idb), lmax, p.temperature, mbits);
  if (p.top_p < 1) {
    keep = first_reaching(mass, keep, sr::top_p_need(total, p.top_p)) + 1;
    total = 0;
    for (std::size_t i = 0; i < keep; ++i) total += mass[i];
  }
  return sr::key_id(keys[first_reaching(mass, keep, sr::pick_need(total, u))], idb);
}

}  // namespace

void check_sampling_args(const SamplingArgs& a, const char* op) {
  CUGPT_CHECK(a.B >= 0 && a.V > 0 && (a.ld == 0 || a.ld >= a.V),
              std::string(op) + ": bad sizes B=" + std::to_string(a.B) +
                  " V=" + std::to_string(a.V) + " ld=" + std::to_string(a.ld));
  if (a.B == 0) return;
  CUGPT_CHECK(a.logits && a.ids && a.rng_states, std::string(op) + ": null logits, ids or rng");
  if (!a.row_params) {
    const SamplingParams& p = a.params;
    CUGPT_CHECK(p.temperature >= 0 && std::isfinite(p.temperature),
                std::string(op) + ": temperature must be a finite number >= 0");
    CUGPT_CHECK(p.top_k >= 0, std::string(op) + ": top-k must not be negative");
    CUGPT_CHECK(p.top_p > 0 && p.top_p <= 1, std::string(op) + ": top-p must be in (0, 1]");
  }
}

void sample_tokens_cpu(const SamplingArgs& a) {
  check_sampling_args(a, "sample_tokens_cpu");
  CUGPT_CHECK(a.dtype == DType::f32, "sample_tokens_cpu: f32 logits only");
  const int ld = a.ld == 0 ? a.V : a.ld;
  const auto* logits = static_cast<const float*>(a.logits);
  for (int b = 0; b < a.B; ++b) {
    if (a.active && a.active[b] == 0) continue;
    const SamplingParams& p = a.row_params ? a.row_params[b] : a.params;
    a.ids[b] = sample_row(logits + static_cast<std::size_t>(b) * static_cast<std::size_t>(ld), a.V,
                          p, a.rng_states[b]);
  }
}

void max_order_keys_cpu(std::uint64_t* keys, const float* logits, int B, int V, int ld) {
  const int idb = sampling_rule::id_bits(V);
  for (int b = 0; b < B; ++b) {
    const float* row = logits + static_cast<std::size_t>(b) * static_cast<std::size_t>(ld);
    for (int n = 0; n < V; ++n)
      keys[b] = std::max(keys[b], sampling_rule::order_key(row[n], n, idb));
  }
}

void argmax_ids_cpu(std::int32_t* ids, std::uint64_t* keys, int B, int V) {
  CUGPT_CHECK(B >= 0 && V > 0 && (B == 0 || (ids && keys)), "argmax_ids_cpu: bad arguments");
  const int idb = sampling_rule::id_bits(V);
  for (int b = 0; b < B; ++b) {
    ids[b] = sampling_rule::key_id(keys[b], idb);
    keys[b] = 0;
  }
}

}  // namespace cugpt::kernels
