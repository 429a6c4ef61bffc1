// sampling: one token id per row of logits (B, V), greedy or sampled with temperature, top-k and
// top-p, from per-row splitmix64 streams; the batched twin of models/generate.h's sample_token
// that runs on the device without a host round trip (docs/generation.md, "Sampling on the
// device").
//
// The rule (sample_token's): order the row by logit, largest first, equal logits by id,
// smallest first, NaN as -inf and -0 as +0; top_k > 0 keeps the first top_k; weights
// exp((l - l_first) / T); top_p < 1 keeps the shortest prefix whose weight sum is >= top_p of
// the kept sum; u in [0, 1) picks the first token whose cumulative weight exceeds u * (kept sum),
// the last kept one if none does. Greedy (T <= 0): the first token of the order.
//
// How the sums are made: each weight (in (0, 1], computed in double as sample_token does) is
// rounded once to a fixed-point integer of 2^-47 (fewer bits past 65536 ids) and every sum is an
// integer sum, exact in any order. So the result does not depend on the order of additions (the
// device and the cpu twin give the same ids), and it differs from sample_token's double sums
// only when u lies within ~1e-12 of a cumulative boundary.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/dtype.h"
#include "kernels/runtime.h"

#if defined(__CUDACC__)
#define CUGPT_SAMPLING_HD __host__ __device__ __forceinline__
#else
#define CUGPT_SAMPLING_HD inline
#endif

namespace cugpt::kernels {

// One row's parameters (sample_token's SamplingOptions). The same layout on host and device.
struct SamplingParams {
  double temperature = 0;  // > 0 samples; <= 0 (or NaN) is greedy and draws nothing
  std::int32_t top_k = 0;  // 0 (or >= V): no cut
  double top_p = 1;        // < 1: the nucleus; >= 1: no cut
};

struct SamplingArgs {
  int B = 0, V = 0;
  int ld = 0;                    // the row pitch of logits in elements, >= V (0 means V)
  const void* logits = nullptr;  // (B, ld) of dtype; only the first V columns are read
  DType dtype = DType::f32;      // cuda: f32, bf16, f16; cpu: f32
  std::int32_t* ids = nullptr;   // (B) out: the sampled id of each active row
  // (B) in/out: each row's splitmix64 state, advanced once by a row that samples (active and
  // temperature > 0), exactly as next_uniform does; untouched otherwise.
  std::uint64_t* rng_states = nullptr;
  SamplingParams params;                       // for every row, unless row_params
  const SamplingParams* row_params = nullptr;  // (B) or nullptr (cuda: device memory)
  const std::int32_t* active = nullptr;        // (B) 0: the row is skipped (no id written, no
                                               // draw); nullptr: every row is active
  void* workspace = nullptr;                   // cuda: sampling_workspace_bytes(B, V), 8-aligned
  std::size_t workspace_bytes = 0;
};

// The device workspace sample_tokens_cuda needs: one 8-byte weight per logit (B * V * 8).
std::size_t sampling_workspace_bytes(int B, int V);

// Host memory, f32 logits: the device's arithmetic (fixed-point weights, integer sums), written
// as a sort, the oracle for sample_tokens_cuda. Throws on invalid batch params.
void sample_tokens_cpu(const SamplingArgs& a);

// Device memory, one block per row, asynchronous on `stream`: no allocation, no host
// synchronisation, a launch that depends on B only (capturable in a CUDA graph). Host checks:
// sizes, pointers, workspace size and alignment, and `params` when row_params is nullptr
// (row_params are the caller's to validate; invalid ones behave as stated above).
void sample_tokens_cuda(const SamplingArgs& a, Stream stream);

// keys[b] = max(keys[b], the largest order key of row b of the (B, ld) f32 logits' first V
// columns): what the argmax epilogue of kernels/ln_gemv.h computes, on the host.
void max_order_keys_cpu(std::uint64_t* keys, const float* logits, int B, int V, int ld);
// Greedy ids from argmax keys (kernels/ln_gemv.h's argmax epilogue, B rows of V logits): each
// row's id is its key's (sampling_rule::key_id), the greedy pick of the logits the keys were
// made from, and the key goes back to 0 for the next product. cuda: device memory, one launch.
void argmax_ids_cpu(std::int32_t* ids, std::uint64_t* keys, int B, int V);
void argmax_ids_cuda(std::int32_t* ids, std::uint64_t* keys, int B, int V, Stream stream);

// The host checks both run (op names the caller in the one-line error).
void check_sampling_args(const SamplingArgs& a, const char* op);

// The arithmetic both implementations share.
namespace sampling_rule {

constexpr int kListCap = 1024;  // cuda: top_k up to this is gathered into shared memory

// Bits of the id part of a key: ceil(log2(V)).
CUGPT_SAMPLING_HD int id_bits(int V) {
  int b = 0;
  while ((1ll << b) < V) ++b;
  return b;
}
// Bits of a whole key rounded up to whole bytes (the radix digits of the cuda select).
CUGPT_SAMPLING_HD int key_bits(int V) {
  return (32 + id_bits(V) + 7) / 8 * 8;
}
// The weight 1.0 as a fixed-point integer: 2^47, fewer bits when V > 65536, so that V weights
// sum below 2^63 (and one weight fits the cuda warp sums: < 2^48).
CUGPT_SAMPLING_HD int mass_bits(int V) {
  const int room = 63 - id_bits(V + 1);
  return room < 47 ? room : 47;
}

CUGPT_SAMPLING_HD std::uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
CUGPT_SAMPLING_HD float bits_float(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

// The sort key of logit l at id: larger key = earlier in the order. The canonical value
// (NaN -> -inf, -0 -> +0) mapped to an order-preserving uint32, above the id reversed.
CUGPT_SAMPLING_HD std::uint64_t order_key(float l, int id, int idb) {
  if (l != l) l = -INFINITY;
  if (l == 0.0f) l = 0.0f;
  const std::uint32_t u = float_bits(l);
  const std::uint32_t ord = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  const std::uint64_t low = ((std::uint64_t{1} << idb) - 1) - static_cast<std::uint64_t>(id);
  return (static_cast<std::uint64_t>(ord) << idb) | low;
}
CUGPT_SAMPLING_HD int key_id(std::uint64_t key, int idb) {
  const std::uint64_t mask = (std::uint64_t{1} << idb) - 1;
  return static_cast<int>(mask - (key & mask));
}
// The canonical logit of a key.
CUGPT_SAMPLING_HD float key_logit(std::uint64_t key, int idb) {
  const auto ord = static_cast<std::uint32_t>(key >> idb);
  return bits_float((ord & 0x80000000u) ? (ord & 0x7fffffffu) : ~ord);
}

// exp((l - lmax) / T) in double (sample_token's weight), rounded to the fixed point of mass_bits.
// l is a canonical logit <= lmax (finite), T > 0.
CUGPT_SAMPLING_HD std::uint64_t weight_mass(float l, float lmax, double T, int mbits) {
  const double w = ::exp((static_cast<double>(l) - static_cast<double>(lmax)) / T);
  return static_cast<std::uint64_t>(w * static_cast<double>(std::uint64_t{1} << mbits) + 0.5);
}

// The targets: the chosen token is the first of the order whose cumulative mass is >= need
// (the last of the set when the total is below need).
// top-p: cumulative >= p * total, at least the first token.
CUGPT_SAMPLING_HD std::uint64_t top_p_need(std::uint64_t total, double p) {
  const double x = ::ceil(p * static_cast<double>(total));
  return x < 1.0 ? 1 : static_cast<std::uint64_t>(x);
}
// The draw: cumulative > u * total, i.e. >= floor(u * total) + 1 for integer sums.
CUGPT_SAMPLING_HD std::uint64_t pick_need(std::uint64_t total, double u) {
  return static_cast<std::uint64_t>(::floor(u * static_cast<double>(total))) + 1;
}

// models/generate.h's next_uniform (splitmix64), repeated here below the models layer.
CUGPT_SAMPLING_HD double next_uniform(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

}  // namespace sampling_rule

}  // namespace cugpt::kernels
