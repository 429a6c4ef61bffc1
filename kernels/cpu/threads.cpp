#include "kernels/cpu/threads.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <string>

#include "kernels/error.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace cugpt::kernels {

namespace {
std::atomic<int> g_threads{0};  // 0: not set, use the default

int parse_threads(const char* text, const char* what) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < 1 || v > 4096)
    throw Error(std::string(what) + " must be a whole number of threads from 1 to 4096, not '" +
                text + "'");
  return static_cast<int>(v);
}

int machine_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
}
}  // namespace

int default_cpu_threads() {
  if (const char* env = std::getenv("CUGPT_THREADS"); env && *env)
    return parse_threads(env, "CUGPT_THREADS");
  return machine_cores();
}

int cpu_threads() {
  const int n = g_threads.load(std::memory_order_relaxed);
  if (n > 0) return n;
  static const int fallback = default_cpu_threads();
  return fallback;
}

void set_cpu_threads(int n) {
  if (n < 0 || n > 4096)
    throw Error("--threads must be from 1 to 4096 (0: the default), not " + std::to_string(n));
  g_threads.store(n, std::memory_order_relaxed);
}

std::int64_t chunk_for(std::int64_t n, double cost, std::int64_t max_chunks) {
  // ~64K units (flops or bytes) per chunk take a few microseconds: the start of a parallel
  // region and the hand-off of a chunk cost about one.
  constexpr double kMinUnits = 65536;
  if (n <= 0) return 1;
  std::int64_t chunk = std::max<std::int64_t>(
      1, static_cast<std::int64_t>(std::ceil(kMinUnits / std::max(cost, 1.0))));
  chunk = std::max(chunk, (n + max_chunks - 1) / max_chunks);
  return std::min(chunk, n);
}

void parallel_chunks(std::int64_t n, std::int64_t chunk,
                     const std::function<void(std::int64_t, std::int64_t)>& body) {
  if (n <= 0) return;
  CUGPT_CHECK(chunk > 0, "parallel_chunks: chunk must be positive");
  const std::int64_t chunks = chunk_count(n, chunk);
#ifdef _OPENMP
  [[maybe_unused]] const int threads =
      static_cast<int>(std::min<std::int64_t>(cpu_threads(), chunks));
  const bool inline_run = threads <= 1 || omp_in_parallel();
#else
  [[maybe_unused]] const int threads = 1;
  const bool inline_run = true;
#endif
  if (inline_run) {
    for (std::int64_t c = 0; c < chunks; ++c) body(c * chunk, std::min(n, (c + 1) * chunk));
    return;
  }
  std::exception_ptr error;
#ifdef _OPENMP
  // Dynamic scheduling balances uneven chunks (the causal triangle); which thread runs a chunk
  // does not change what the chunk computes.
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (std::int64_t c = 0; c < chunks; ++c) {
    try {
      body(c * chunk, std::min(n, (c + 1) * chunk));
    } catch (...) {
#pragma omp critical(cugpt_parallel_chunks_error)
      if (!error) error = std::current_exception();
    }
  }
#endif
  if (error) std::rethrow_exception(error);
}

}  // namespace cugpt::kernels
