// The batched sampler of kernels/sampling.h against models/generate.h's sample_token, the
// contract (docs/generation.md, "Sampling on the device").
//  - SamplingTwin (cpu): the cpu twin, i.e. the device's arithmetic (order keys, fixed-point
//    weights, integer sums), gives sample_token's ids with the same stream, and advances the
//    streams exactly as sample_token does. An id may differ only where u (or top_p) lies within
//    1e-9 of a cumulative boundary of sample_token's double sums; such cases are counted and
//    must stay at most one per test (none were seen).
//  - SamplingArgs (cpu, a CUDA build): the host checks of sample_tokens_cuda.
//  - CudaSampling (GPU; skips with the reason without one): the device's ids equal the twin's
//    exactly (greedy: sample_token's argmax exactly), for f32/bf16/f16 logits, odd V
//    (7, 1000, 50257), B in {1, 3, 16}, ties, NaN, infinities, signed zeros, per-row params,
//    inactive rows, pitched logits; outputs are poisoned and guarded; the streams on the device
//    equal the cpu's after every step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/dtype.h"
#include "kernels/error.h"
#include "kernels/runtime.h"
#include "kernels/sampling.h"
#include "models/generate.h"
#include "tests/gpu_test.h"

namespace cugpt {
namespace {

using kernels::SamplingArgs;
using kernels::SamplingParams;

enum class Kind { normal, ties, special };

// (B, ld) logits, the first V columns used, the padding NaN. normal: N(0, 3) like a language
// model's; ties: half-integers (many equal logits); special: NaN, -inf, -0 and +0 sprinkled, a
// row of only NaN and -inf and a row with two +inf when B > 2.
std::vector<float> make_logits(int B, int V, int ld, unsigned seed, Kind kind) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.f, 3.f);
  std::uniform_int_distribution<int> pct(0, 99);
  std::vector<float> x(static_cast<std::size_t>(B) * ld, NAN);
  for (int b = 0; b < B; ++b)
    for (int v = 0; v < V; ++v) {
      float& l = x[static_cast<std::size_t>(b) * ld + v];
      l = n(rng);
      if (kind == Kind::ties) l = std::round(l * 2.f) / 2.f;
      if (kind == Kind::special) {
        const int r = pct(rng);
        if (r < 5)
          l = NAN;
        else if (r < 10)
          l = -INFINITY;
        else if (r < 15)
          l = (r % 2) ? -0.f : 0.f;
        if (b == 1 && B > 2) l = (r % 2) ? NAN : -INFINITY;
        if (b == 2 && (v == V / 2 || v == V - 1)) l = INFINITY;
      }
    }
  return x;
}

std::vector<SamplingParams> cases(int V) {
  return {{1.0, 0, 1.0},  {0.7, 50, 1.0},    {1.3, 0, 0.9},    {0.8, 40, 0.95},
          {2.0, 1, 1.0},  {1.0, V + 5, 0.5}, {0.6, 2000, 1.0}, {1.0, 0, 1e-9},
          {1e-3, 0, 1.0}, {50.0, 0, 0.99},   {1.0, 1024, 0.8}, {1.0, 1025, 1.0}};
}

SamplingOptions options(const SamplingParams& p) {
  SamplingOptions o;
  o.temperature = p.temperature;
  o.top_k = p.top_k;
  o.top_p = p.top_p;
  return o;
}

std::string describe(const SamplingParams& p, int B, int V, const char* what) {
  std::ostringstream s;
  s << what << " B=" << B << " V=" << V << " T=" << p.temperature << " k=" << p.top_k
    << " p=" << p.top_p;
  return s.str();
}

// True when sample_token's id changes for u or top_p moved by 1e-9: u is at a boundary.
bool near_boundary(const float* row, int V, const SamplingOptions& o, double u) {
  const double e = 1e-9, below_one = std::nextafter(1.0, 0.0);
  const auto at = [&](double uu, double pp) {
    SamplingOptions q = o;
    q.top_p = pp;
    return sample_token(row, V, q, std::clamp(uu, 0.0, below_one));
  };
  const std::int32_t mid = at(u, o.top_p);
  if (at(u - e, o.top_p) != mid || at(u + e, o.top_p) != mid) return true;
  return o.top_p < 1 && (at(u, std::min(1.0, o.top_p + e)) != mid || at(u, o.top_p - e) != mid);
}

// Checks one batched step against sample_token row by row: ids (boundary cases counted in
// *boundary), and the streams after the step.
void expect_sample_token(const std::vector<float>& logits, int B, int V, int ld,
                         const std::vector<SamplingParams>& params,
                         const std::vector<std::int32_t>& active,
                         const std::vector<std::uint64_t>& rng_before,
                         const std::vector<std::uint64_t>& rng_after,
                         const std::vector<std::int32_t>& ids, std::int32_t poison, int* boundary) {
  for (int b = 0; b < B; ++b) {
    const float* row = logits.data() + static_cast<std::size_t>(b) * ld;
    const SamplingOptions o = options(params[static_cast<std::size_t>(b)]);
    std::uint64_t state = rng_before[static_cast<std::size_t>(b)];
    if (!active.empty() && active[static_cast<std::size_t>(b)] == 0) {
      EXPECT_EQ(ids[static_cast<std::size_t>(b)], poison) << "inactive row " << b << " written";
      EXPECT_EQ(rng_after[static_cast<std::size_t>(b)], state) << "inactive row " << b;
      continue;
    }
    std::uint64_t probe = state;
    const double u = o.temperature > 0 ? next_uniform(probe) : 0.0;
    const std::int32_t want = sample_token(row, V, o, state);
    EXPECT_EQ(rng_after[static_cast<std::size_t>(b)], state) << "row " << b << " stream";
    const std::int32_t got = ids[static_cast<std::size_t>(b)];
    if (got == want) continue;
    if (o.temperature > 0 && near_boundary(row, V, o, u)) {
      ++*boundary;
      continue;
    }
    ADD_FAILURE() << "row " << b << ": id " << got << ", sample_token " << want << " (u=" << u
                  << ")";
  }
}

// ---- the cpu twin ---------------------------------------------------------------------------

TEST(SamplingTwin, StreamIsNextUniform) {
  for (std::uint64_t seed : {0ull, 1ull, 0xdeadbeefull, ~0ull}) {
    std::uint64_t a = row_stream(seed, 3), b = a;
    for (int i = 0; i < 1000; ++i)
      ASSERT_EQ(kernels::sampling_rule::next_uniform(a), next_uniform(b));
    EXPECT_EQ(a, b);
  }
}

TEST(SamplingTwin, KeysOrderAsTheContract) {
  namespace sr = kernels::sampling_rule;
  const int idb = sr::id_bits(50257);
  const auto before = [&](float a, int ia, float b, int ib) {
    return sr::order_key(a, ia, idb) > sr::order_key(b, ib, idb);
  };
  EXPECT_TRUE(before(1.f, 9, 0.5f, 0));
  EXPECT_TRUE(before(1.f, 3, 1.f, 4));   // equal logits: the smaller id first
  EXPECT_TRUE(before(-0.f, 3, 0.f, 4));  // -0 == +0
  EXPECT_TRUE(before(0.f, 3, -0.f, 4));
  EXPECT_TRUE(before(NAN, 3, -INFINITY, 4));  // NaN counts as -inf
  EXPECT_TRUE(before(-INFINITY, 3, NAN, 4));
  EXPECT_TRUE(before(-1e30f, 50256, NAN, 0));  // above NaN
  EXPECT_TRUE(before(INFINITY, 50256, 3e38f, 0));
  EXPECT_TRUE(before(-1.f, 0, -2.f, 0));
  for (float l : {1.5f, -0.25f, 0.f, -INFINITY, INFINITY, 3e-40f}) {
    const std::uint64_t k = sr::order_key(l, 777, idb);
    EXPECT_EQ(sr::key_id(k, idb), 777);
    EXPECT_EQ(sr::key_logit(k, idb), l);
  }
  EXPECT_EQ(sr::key_bits(7), 40);
  EXPECT_EQ(sr::key_bits(50257), 48);
  EXPECT_EQ(sr::mass_bits(50257), 47);
  EXPECT_EQ(sr::mass_bits(1 << 20), 42);
}

TEST(SamplingTwin, EqualsSampleTokenWithTheSameStream) {
  int boundary = 0, draws = 0;
  for (int V : {7, 1000, 50257})
    for (int B : {1, 3, 16})
      for (Kind kind : {Kind::normal, Kind::ties, Kind::special}) {
        if (V == 50257 && B == 16 && kind != Kind::normal) continue;  // time
        const int steps = V == 50257 ? 2 : V == 1000 ? 6 : 40;
        const auto logits = make_logits(B, V, V, 11u * V + B + 100u * static_cast<int>(kind), kind);
        for (const SamplingParams& p : cases(V)) {
          SCOPED_TRACE(describe(p, B, V, "twin"));
          std::vector<std::uint64_t> rng(static_cast<std::size_t>(B));
          for (int b = 0; b < B; ++b) rng[static_cast<std::size_t>(b)] = row_stream(V + B, b);
          for (int step = 0; step < steps; ++step) {
            std::vector<std::int32_t> ids(static_cast<std::size_t>(B), -7);
            const auto before = rng;
            SamplingArgs a;
            a.B = B, a.V = V, a.logits = logits.data(), a.ids = ids.data();
            a.rng_states = rng.data(), a.params = p;
            kernels::sample_tokens_cpu(a);
            expect_sample_token(logits, B, V, V, std::vector<SamplingParams>(B, p), {}, before, rng,
                                ids, -7, &boundary);
            draws += B;
          }
        }
      }
  EXPECT_LE(boundary, 1) << "boundary cases in " << draws << " draws";
  std::cout << draws << " draws, " << boundary << " at a boundary\n";
}

TEST(SamplingTwin, RowParamsActiveRowsAndPitch) {
  const int B = 5, V = 1000, ld = 1003;
  const auto logits = make_logits(B, V, ld, 5, Kind::ties);
  const std::vector<SamplingParams> params = {
      {0.0, 0, 1.0}, {1.0, 10, 1.0}, {0.9, 0, 0.8}, {1.0, 0, 1.0}, {0.5, 3, 0.5}};
  const std::vector<std::int32_t> active = {1, 1, 0, 1, 1};
  std::vector<std::uint64_t> rng = {1, 2, 3, 4, 5};
  int boundary = 0;
  for (int step = 0; step < 20; ++step) {
    std::vector<std::int32_t> ids(B, -7);
    const auto before = rng;
    SamplingArgs a;
    a.B = B, a.V = V, a.ld = ld, a.logits = logits.data(), a.ids = ids.data();
    a.rng_states = rng.data(), a.row_params = params.data(), a.active = active.data();
    kernels::sample_tokens_cpu(a);
    expect_sample_token(logits, B, V, ld, params, active, before, rng, ids, -7, &boundary);
  }
  EXPECT_EQ(rng[0], 1u);  // greedy draws nothing
  EXPECT_EQ(rng[2], 3u);  // inactive
  EXPECT_EQ(boundary, 0);
}

TEST(SamplingTwin, RejectsBadArguments) {
  std::vector<float> x(8, 0.f);
  std::vector<std::int32_t> ids(1);
  std::vector<std::uint64_t> rng(1);
  SamplingArgs a;
  a.B = 1, a.V = 8, a.logits = x.data(), a.ids = ids.data(), a.rng_states = rng.data();
  a.params.temperature = -1;
  EXPECT_THROW(kernels::sample_tokens_cpu(a), Error);
  a.params = {1.0, -1, 1.0};
  EXPECT_THROW(kernels::sample_tokens_cpu(a), Error);
  a.params = {1.0, 0, 0.0};
  EXPECT_THROW(kernels::sample_tokens_cpu(a), Error);
  a.params = {1.0, 0, 1.0};
  a.ld = 4;
  EXPECT_THROW(kernels::sample_tokens_cpu(a), Error);
  a.ld = 0;
  a.dtype = DType::bf16;
  EXPECT_THROW(kernels::sample_tokens_cpu(a), Error);
}

// ---- the device ---------------------------------------------------------------------------

// The host checks run before anything touches the device: a CUDA build, no GPU needed.
TEST(SamplingArgs, CudaChecksItsArguments) {
  SamplingArgs a;
  a.B = 2, a.V = 10;
  a.logits = reinterpret_cast<const void*>(0x100);
  a.ids = reinterpret_cast<std::int32_t*>(0x100);
  a.rng_states = reinterpret_cast<std::uint64_t*>(0x100);
  a.params = {1.0, 0, 1.0};
  try {
    kernels::sample_tokens_cuda(a, nullptr);  // no workspace for sampling rows
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("workspace"), std::string::npos) << e.what();
  }
  a.workspace = reinterpret_cast<void*>(0x104), a.workspace_bytes = 1 << 20;
  EXPECT_THROW(kernels::sample_tokens_cuda(a, nullptr), Error);  // not 8-aligned
  a.params.top_p = 1.5;
  EXPECT_THROW(kernels::sample_tokens_cuda(a, nullptr), Error);
  EXPECT_EQ(kernels::sampling_workspace_bytes(16, 50257), 16u * 50257u * 8u);
}

// Device memory for the test's lifetime.
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t n) : n_(n), p_(static_cast<T*>(cuda_malloc(n * sizeof(T)))) {}
  ~DeviceBuffer() { cuda_free(p_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void upload(const std::vector<T>& v) { cuda_memcpy_h2d(p_, v.data(), v.size() * sizeof(T)); }
  std::vector<T> download() const {
    std::vector<T> v(n_);
    cuda_synchronize();
    cuda_memcpy_d2h(v.data(), p_, n_ * sizeof(T));
    return v;
  }
  T* get() { return p_; }

 private:
  std::size_t n_;
  T* p_;
};

// Logits rounded to dtype (what the cpu sees) and their bytes in dtype (what the device reads).
std::vector<float> rounded(DType t, std::vector<float> x, std::vector<std::uint16_t>* bits) {
  bits->resize(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (t == DType::bf16)
      (*bits)[i] = float_to_bf16_bits(x[i]), x[i] = bf16_bits_to_float((*bits)[i]);
    if (t == DType::f16) (*bits)[i] = float_to_f16_bits(x[i]), x[i] = f16_bits_to_float((*bits)[i]);
  }
  return x;
}

using CudaSampling = testing::CudaTest;

constexpr std::int32_t kPoison = -7;

// Runs `steps` batched steps on the device and on the cpu twin from the same streams: the ids
// must be equal, the streams equal after every step, and both sample_token's (boundary cases
// counted). ids has a guard element on each side.
void run_steps(DType t, int B, int V, int ld, const std::vector<float>& raw,
               const std::vector<SamplingParams>& params, bool per_row,
               const std::vector<std::int32_t>& active, int steps, int* boundary) {
  std::vector<std::uint16_t> bits;
  const std::vector<float> logits = rounded(t, raw, &bits);
  DeviceBuffer<float> d_f32(t == DType::f32 ? logits.size() : 1);
  DeviceBuffer<std::uint16_t> d_16(t == DType::f32 ? 1 : bits.size());
  if (t == DType::f32)
    d_f32.upload(logits);
  else
    d_16.upload(bits);
  DeviceBuffer<std::int32_t> d_ids(static_cast<std::size_t>(B) + 2);
  DeviceBuffer<std::uint64_t> d_rng(static_cast<std::size_t>(B));
  DeviceBuffer<SamplingParams> d_params(static_cast<std::size_t>(B));
  DeviceBuffer<std::int32_t> d_active(static_cast<std::size_t>(B));
  const std::size_t ws_bytes = kernels::sampling_workspace_bytes(B, V);
  DeviceBuffer<std::uint64_t> d_ws(ws_bytes / 8);
  d_params.upload(params);
  if (!active.empty()) d_active.upload(active);

  std::vector<std::uint64_t> rng(static_cast<std::size_t>(B));
  for (int b = 0; b < B; ++b) rng[static_cast<std::size_t>(b)] = row_stream(7 * V + B, b);
  d_rng.upload(rng);
  for (int step = 0; step < steps; ++step) {
    d_ids.upload(std::vector<std::int32_t>(static_cast<std::size_t>(B) + 2, kPoison));
    SamplingArgs a;
    a.B = B, a.V = V, a.ld = ld, a.dtype = t;
    a.logits = t == DType::f32 ? static_cast<const void*>(d_f32.get()) : d_16.get();
    a.ids = d_ids.get() + 1, a.rng_states = d_rng.get();
    a.params = params[0];
    a.row_params = per_row ? d_params.get() : nullptr;
    a.active = active.empty() ? nullptr : d_active.get();
    a.workspace = d_ws.get(), a.workspace_bytes = ws_bytes;
    kernels::sample_tokens_cuda(a, nullptr);
    const std::vector<std::int32_t> all = d_ids.download();
    EXPECT_EQ(all.front(), kPoison) << "guard before ids written";
    EXPECT_EQ(all.back(), kPoison) << "guard after ids written";
    const std::vector<std::int32_t> got(all.begin() + 1, all.end() - 1);
    const std::vector<std::uint64_t> got_rng = d_rng.download();

    std::vector<std::int32_t> want(static_cast<std::size_t>(B), kPoison);
    const auto before = rng;
    SamplingArgs c = a;
    c.dtype = DType::f32, c.logits = logits.data(), c.ids = want.data(), c.rng_states = rng.data();
    c.row_params = per_row ? params.data() : nullptr;
    c.active = active.empty() ? nullptr : active.data();
    c.workspace = nullptr;
    kernels::sample_tokens_cpu(c);
    EXPECT_EQ(got, want) << "step " << step << ": device vs cpu twin";
    EXPECT_EQ(got_rng, rng) << "step " << step << ": streams";
    expect_sample_token(logits, B, V, ld,
                        per_row ? params : std::vector<SamplingParams>(B, params[0]), active,
                        before, got_rng, got, kPoison, boundary);
    if (::testing::Test::HasFailure()) return;
  }
}

TEST_F(CudaSampling, GreedyIsTheArgmaxExactly) {
  int boundary = 0;
  for (DType t : {DType::f32, DType::bf16, DType::f16})
    for (int V : {7, 1000, 50257})
      for (int B : {1, 3, 16})
        for (Kind kind : {Kind::normal, Kind::ties, Kind::special}) {
          SCOPED_TRACE(describe({}, B, V, dtype_name(t)));
          const auto x = make_logits(B, V, V, 3u * V + B + 7u * static_cast<int>(kind), kind);
          run_steps(t, B, V, V, x, {SamplingParams{0.0, 0, 1.0}}, false, {}, 1, &boundary);
        }
  EXPECT_EQ(boundary, 0);
}

TEST_F(CudaSampling, SampledIdsAreTheCpuOnesWithTheSameStreams) {
  int boundary = 0;
  for (int V : {7, 1000, 50257})
    for (int B : {1, 3, 16})
      for (Kind kind : {Kind::normal, Kind::ties, Kind::special})
        for (const SamplingParams& p : cases(V)) {
          SCOPED_TRACE(describe(p, B, V, "f32"));
          const auto x = make_logits(B, V, V, 5u * V + B + 13u * static_cast<int>(kind), kind);
          run_steps(DType::f32, B, V, V, x, {p}, false, {}, V == 50257 ? 3 : 10, &boundary);
        }
  EXPECT_LE(boundary, 1);
}

TEST_F(CudaSampling, HalfPrecisionLogits) {
  int boundary = 0;
  for (DType t : {DType::bf16, DType::f16})
    for (int V : {1000, 50257})
      for (const SamplingParams& p : cases(V)) {
        SCOPED_TRACE(describe(p, 3, V, dtype_name(t)));
        const auto x = make_logits(3, V, V, 17u + V, Kind::normal);
        run_steps(t, 3, V, V, x, {p}, false, {}, 4, &boundary);
      }
  EXPECT_LE(boundary, 1);
}

TEST_F(CudaSampling, RowParamsInactiveRowsAndPitch) {
  const int B = 6, V = 50257, ld = 50264;
  const std::vector<SamplingParams> params = {{0.0, 0, 1.0}, {1.0, 50, 1.0},   {0.9, 0, 0.9},
                                              {1.0, 0, 1.0}, {0.7, 3000, 0.6}, {1.2, 5, 1.0}};
  const std::vector<std::int32_t> active = {1, 1, 0, 1, 1, 0};
  int boundary = 0;
  for (Kind kind : {Kind::normal, Kind::special}) {
    const auto x = make_logits(B, V, ld, 23u + static_cast<int>(kind), kind);
    run_steps(DType::f32, B, V, ld, x, params, true, active, 5, &boundary);
  }
  EXPECT_LE(boundary, 1);
}

}  // namespace
}  // namespace cugpt
