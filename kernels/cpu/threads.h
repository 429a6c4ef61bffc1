// The cpu kernels' thread count, and the one way they split work across threads.
//
// Determinism across thread counts is by construction: a kernel cuts its output into chunks
// whose boundaries depend only on the problem's sizes (never on the thread count), and each
// chunk is computed by one thread with the same code a single thread runs. Any thread count
// therefore makes the same calls on the same data, in the same order within each chunk, and
// produces the same bits. Reductions across chunks (LayerNorm backward's dweight) keep one
// partial per chunk and add the partials in chunk order on one thread.
#pragma once

#include <cstdint>
#include <functional>

namespace cugpt::kernels {

// Threads the cpu kernels use: set_cpu_threads(n) if called with n >= 1, else CUGPT_THREADS if
// set (a positive integer; anything else is an error), else the cores this process may run on.
int cpu_threads();

// n >= 1 sets the count; 0 returns to the default above. Bad values throw cugpt::Error.
void set_cpu_threads(int n);

// The default: CUGPT_THREADS or the machine's cores (the online cpus this process may use).
int default_cpu_threads();

// Work units (~ flops or bytes) a chunk must hold to be worth handing to another thread:
// waking a sleeping worker and waiting for its chunk costs about 10-30 us, a spinning one about
// 1 us, and 64K units take 5-30 us on one core (bench/bench_threads.cpp measures both).
constexpr double kMinChunkWork = 65536;

// How long a worker spins for the next job, and the caller for its helpers' last chunks,
// before sleeping on a condition variable: long enough to bridge the gap between two ops of a
// forward pass, short enough that a pool whose process is idle or descheduled takes no core
// from other programs.
constexpr int kSpinMicroseconds = 50;

// Runs body(begin, end) for the chunks [0, chunk), [chunk, 2 chunk), ... of [0, n), each chunk
// on one thread, as many threads at once as cpu_threads() allows: the caller and the pool's
// workers claim chunks one at a time, so a worker that is not running delays nothing. The
// bodies must write disjoint memory. Runs inline (no hand-off) when there is one chunk or one
// thread, when `work` (the job's total units, if the caller knows it; negative: unknown) is
// below two chunks' worth (kMinChunkWork), inside another job's body, or while another thread's
// job holds the pool. An exception thrown by a body is rethrown here after every chunk has
// finished (inline: at once).
void parallel_chunks(std::int64_t n, std::int64_t chunk,
                     const std::function<void(std::int64_t, std::int64_t)>& body, double work = -1);

// The number of chunks of `chunk` items in n items (n > 0), for kernels that keep one partial
// result per chunk.
inline std::int64_t chunk_count(std::int64_t n, std::int64_t chunk) {
  return (n + chunk - 1) / chunk;
}

// A chunk size for n items of `cost` units each (cost ~ the flops or bytes one item takes):
// at least kMinChunkWork units, so a chunk outweighs what it costs to hand it to a thread, with
// at most `max_chunks` chunks. Depends on n and cost only, never on the thread count.
std::int64_t chunk_for(std::int64_t n, double cost, std::int64_t max_chunks = 64);

}  // namespace cugpt::kernels
