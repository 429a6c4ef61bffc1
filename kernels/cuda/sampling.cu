// The device sampler (kernels/sampling.h): one block of 1024 threads per row, everything the
// row needs in shared memory or in its slice of the workspace, no host round trip.
//
// Per row: (1) the first key of the order (a block max of 64-bit order keys, so ties resolve to
// the smallest id whatever the reduction order); greedy rows stop there. A sampling row draws u
// from its stream first (thread 0, once), and stops there too when the first logit is not
// finite (sample_token's rule). (2) top_k: the key of the k-th token by a radix select on
// counts; for k <= 1024 the kept tokens are gathered into shared memory with their weights,
// otherwise every kept token's weight goes to the workspace. (3) top_p < 1: the cut by a
// radix select on weights (the first token whose cumulative weight reaches ceil(p * total)).
// (4) The draw: the same select, target floor(u * total) + 1.
//
// The radix select walks the 64-bit keys from the top, 8 bits a level: a histogram of the
// set's masses and counts per digit (shared-memory integer atomics, aggregated per warp with
// __match_any_sync / __reduce_add_sync: sm_80+), then one warp scans the 256 buckets from the
// largest digit down and keeps the bucket where the cumulative mass reaches the target (or the
// last non-empty bucket when the total falls short: the last token of the set). Once the
// bucket holds at most 1024 tokens they are gathered into shared memory and the next levels
// read only them. Integer sums make every level exact, so the result is the one the sort of
// the cpu twin (kernels/cpu/sampling.cpp) gives, on every run.
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/convert.cuh"
#include "kernels/sampling.h"

namespace cugpt::kernels {

namespace {

namespace sr = sampling_rule;
using u64 = unsigned long long;

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;
constexpr int kBuckets = 256;
constexpr int kCap = sr::kListCap;
constexpr unsigned kFull = 0xffffffffu;

struct Shared {
  u64 mass[kBuckets];
  unsigned count[kBuckets];
  u64 list_key[kCap];  // a gathered set (in any order: the select orders by key)
  u64 list_mass[kCap];
  u64 warp_max[kWarps];
  u64 need;  // the select's target within the chosen bucket
  u64 found;
  unsigned bucket, bucket_count;
  int list_n;
  double u;
};

template <typename T>
struct Row {
  const T* x;
  int V, idb, kbits, mbits;
  __device__ u64 key(int i) const { return sr::order_key(to_f32(x[i]), i, idb); }
};

enum class Target { count, top_p, pick };

// One select: the first key of the set {key >= lo} (largest first) whose cumulative mass
// reaches the target. Masses: 1 each (count), else the workspace's (weights) or the list's.
struct Select {
  u64 lo;
  Target target;
  double param;  // top_p: p; pick: u
  u64 k;         // count: k
  const u64* weights;
  bool in_list;  // the set is the list (n entries) rather than the whole row
  int n;
};

// Adds each lane's mass (< 2^48) and 1 to bucket `digit` (kBuckets: none). All 32 lanes call.
__device__ __forceinline__ void histogram_add(unsigned digit, u64 m, Shared& s) {
  const unsigned peers = __match_any_sync(kFull, digit);
  const unsigned lo = __reduce_add_sync(peers, static_cast<unsigned>(m & 0xffffffu));
  const unsigned hi = __reduce_add_sync(peers, static_cast<unsigned>(m >> 24));
  if (digit < kBuckets && static_cast<int>(threadIdx.x % 32) == __ffs(peers) - 1) {
    atomicAdd(&s.mass[digit], (static_cast<u64>(hi) << 24) + lo);
    atomicAdd(&s.count[digit], static_cast<unsigned>(__popc(peers)));
  }
}

// Warp 0: the bucket where the cumulative mass, largest digit first, reaches the target (the
// target is set from the total at the first level); else the last non-empty bucket. Writes
// bucket, its count and the target left within it.
__device__ void choose_bucket(Shared& s, bool first_level, const Select& q) {
  const int lane = static_cast<int>(threadIdx.x);
  u64 m[8];
  unsigned c[8];
  u64 sum = 0;
  unsigned cnt = 0;
#pragma unroll
  for (int t = 0; t < 8; ++t) {
    const int b = kBuckets - 1 - 8 * lane - t;
    m[t] = s.mass[b];
    c[t] = s.count[b];
    sum += m[t];
    cnt += c[t];
  }
  u64 need = first_level ? 0 : s.need;
  u64 incl = sum;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const u64 v = __shfl_up_sync(kFull, incl, o);
    if (lane >= o) incl += v;
  }
  const u64 total = __shfl_sync(kFull, incl, 31);
  if (first_level)
    need = q.target == Target::count   ? q.k
           : q.target == Target::top_p ? sr::top_p_need(total, q.param)
                                       : sr::pick_need(total, q.param);
  const unsigned reach = __ballot_sync(kFull, incl >= need);
  const unsigned nonempty = __ballot_sync(kFull, cnt > 0);
  const int owner = reach ? __ffs(reach) - 1 : 31 - __clz(nonempty);
  if (lane != owner) return;
  u64 run = incl - sum, before = 0;
  int pick = -1;
  unsigned pick_count = 0;
#pragma unroll
  for (int t = 0; t < 8; ++t) {
    const bool take = reach ? (pick < 0 && run + m[t] >= need) : c[t] > 0;
    if (take) pick = t, before = run, pick_count = c[t];
    run += m[t];
  }
  s.bucket = static_cast<unsigned>(kBuckets - 1 - 8 * lane - pick);
  s.bucket_count = pick_count;
  s.need = need - before;
}

// The set's keys under `prefix` (its top pbits bits) into the list.
template <typename T>
__device__ void gather(const Row<T>& r, const Select& q, u64 prefix, int pbits, Shared& s) {
  if (threadIdx.x == 0) s.list_n = 0;
  __syncthreads();
  const int shift = r.kbits - pbits;
  for (int i = static_cast<int>(threadIdx.x); i < r.V; i += kThreads) {
    const u64 key = r.key(i);
    if (key >= q.lo && (key >> shift) == prefix) {
      const int slot = atomicAdd(&s.list_n, 1);
      s.list_key[slot] = key;
      s.list_mass[slot] = q.target == Target::count ? 1 : q.weights[i];
    }
  }
  __syncthreads();
}

// Every thread calls it and gets the chosen key.
template <typename T>
__device__ u64 select(const Row<T>& r, const Select& q, Shared& s) {
  const int tid = static_cast<int>(threadIdx.x);
  bool in_list = q.in_list;
  int n = q.n;
  u64 prefix = 0;
  int pbits = 0;
  for (;;) {
    for (int b = tid; b < kBuckets; b += kThreads) s.mass[b] = 0, s.count[b] = 0;
    __syncthreads();
    const int shift = r.kbits - pbits - 8;
    const int limit = in_list ? n : r.V;
    for (int base = 0; base < limit; base += kThreads) {  // the same trip count for all lanes
      const int i = base + tid;
      unsigned digit = kBuckets;
      u64 m = 0;
      if (i < limit) {
        const u64 key = in_list ? s.list_key[i] : r.key(i);
        if (key >= q.lo && (pbits == 0 || (key >> (shift + 8)) == prefix)) {
          digit = static_cast<unsigned>(key >> shift) & (kBuckets - 1);
          m = q.target == Target::count ? 1 : in_list ? s.list_mass[i] : q.weights[i];
        }
      }
      histogram_add(digit, m, s);
    }
    __syncthreads();
    if (tid < 32) choose_bucket(s, pbits == 0, q);
    __syncthreads();
    const unsigned bucket = s.bucket, count = s.bucket_count;
    prefix = (prefix << 8) | bucket;
    pbits += 8;
    if (pbits == r.kbits) return prefix;
    if (!in_list && count <= static_cast<unsigned>(kCap)) {
      gather(r, q, prefix, pbits, s);
      in_list = true;
      n = static_cast<int>(count);
    }
    if (count == 1) {  // the one key of the set under prefix, in the list
      for (int j = tid; j < n; j += kThreads) {
        const u64 key = s.list_key[j];
        if (key >= q.lo && (key >> (r.kbits - pbits)) == prefix) s.found = key;
      }
      __syncthreads();
      return s.found;
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads) sample_kernel(SamplingArgs a) {
  const int row = static_cast<int>(blockIdx.x);
  if (a.active && a.active[row] == 0) return;  // the whole block
  const SamplingParams p = a.row_params ? a.row_params[row] : a.params;
  __shared__ Shared s;
  const int tid = static_cast<int>(threadIdx.x);
  const bool greedy = !(p.temperature > 0);
  if (!greedy && tid == 0) s.u = sr::next_uniform(a.rng_states[row]);

  const int ld = a.ld == 0 ? a.V : a.ld;
  const int idb = sr::id_bits(a.V);
  const Row<T> r{static_cast<const T*>(a.logits) + static_cast<std::size_t>(row) * ld, a.V, idb,
                 sr::key_bits(a.V), sr::mass_bits(a.V)};

  u64 first = 0;  // every key is > 0
  for (int i = tid; i < a.V; i += kThreads) first = max(first, r.key(i));
  for (int o = 16; o > 0; o >>= 1) first = max(first, __shfl_xor_sync(kFull, first, o));
  if (tid % 32 == 0) s.warp_max[tid / 32] = first;
  __syncthreads();
  for (int w = 0; w < kWarps; ++w) first = max(first, s.warp_max[w]);
  const float lmax = sr::key_logit(first, idb);
  if (greedy || !isfinite(lmax)) {
    if (tid == 0) a.ids[row] = sr::key_id(first, idb);
    return;
  }
  const double u = s.u;

  u64* weights = static_cast<u64*>(a.workspace) + static_cast<std::size_t>(row) * a.V;
  u64 lo = 0;
  bool in_list = false;
  int n = 0;
  if (p.top_k > 0 && p.top_k < a.V) {
    lo = select(r, Select{0, Target::count, 0, static_cast<u64>(p.top_k), nullptr, false, 0}, s);
    if (p.top_k <= kCap) {  // the kept tokens and their weights into the list
      if (tid == 0) s.list_n = 0;
      __syncthreads();
      for (int i = tid; i < a.V; i += kThreads) {
        const u64 key = r.key(i);
        if (key >= lo) {
          const int slot = atomicAdd(&s.list_n, 1);
          s.list_key[slot] = key;
          s.list_mass[slot] =
              sr::weight_mass(sr::key_logit(key, idb), lmax, p.temperature, r.mbits);
        }
      }
      __syncthreads();
      in_list = true;
      n = p.top_k;
    }
  }
  if (!in_list) {
    for (int i = tid; i < a.V; i += kThreads) {
      const u64 key = r.key(i);
      if (key >= lo)
        weights[i] = sr::weight_mass(sr::key_logit(key, idb), lmax, p.temperature, r.mbits);
    }
    __syncthreads();  // the block's writes to the workspace are visible to the block past here
  }
  if (p.top_p < 1) lo = select(r, Select{lo, Target::top_p, p.top_p, 0, weights, in_list, n}, s);
  const u64 chosen = select(r, Select{lo, Target::pick, u, 0, weights, in_list, n}, s);
  if (tid == 0) a.ids[row] = sr::key_id(chosen, idb);
}

__global__ void argmax_ids_kernel(std::int32_t* ids, std::uint64_t* keys, int B, int idb) {
  const int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= B) return;
  ids[b] = sr::key_id(keys[b], idb);
  keys[b] = 0;
}

}  // namespace

void sample_tokens_cuda(const SamplingArgs& a, Stream stream) {
  check_sampling_args(a, "sample_tokens_cuda");
  if (a.B == 0) return;
  const bool all_greedy = !a.row_params && !(a.params.temperature > 0);
  CUGPT_CHECK(
      all_greedy || (a.workspace && a.workspace_bytes >= sampling_workspace_bytes(a.B, a.V) &&
                     reinterpret_cast<std::uintptr_t>(a.workspace) % 8 == 0),
      "sample_tokens_cuda: a workspace of sampling_workspace_bytes(B, V) = " +
          std::to_string(sampling_workspace_bytes(a.B, a.V)) + " bytes, 8-aligned, is needed");
  dispatch_dtype("sample_tokens_cuda", a.dtype, [&](auto zero) {
    using T = decltype(zero);
    sample_kernel<T><<<static_cast<unsigned>(a.B), kThreads, 0, stream>>>(a);
    CUDA_LAUNCH_CHECK();
  });
}

void argmax_ids_cuda(std::int32_t* ids, std::uint64_t* keys, int B, int V, Stream stream) {
  CUGPT_CHECK(B >= 0 && V > 0 && (B == 0 || (ids && keys)), "argmax_ids_cuda: bad arguments");
  if (B == 0) return;
  argmax_ids_kernel<<<static_cast<unsigned>((B + 63) / 64), 64, 0, stream>>>(ids, keys, B,
                                                                             sr::id_bits(V));
  CUDA_LAUNCH_CHECK();
}

}  // namespace cugpt::kernels
