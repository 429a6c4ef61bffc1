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

// How a worker waits for the next job: it spins for kSpinMicroseconds, then gives its core to
// any other runnable thread (sched_yield) in a loop until kYieldMicroseconds have passed, then
// sleeps on a condition variable. The spin catches the next op of a forward pass, the yielding
// part the longer gaps between parallel ops (waking a sleeping thread costs tens of
// microseconds on a virtual machine: at 50 us alone the tiny models' forward was 1.5x slower
// than OpenMP's), and neither keeps a core from another program that wants it. The caller
// waits for its helpers' last chunks by spinning kSpinMicroseconds, then sleeping: yielding,
// it could lose its core for a whole time slice on a busy machine.
constexpr int kSpinMicroseconds = 50;
constexpr int kYieldMicroseconds = 1000;

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
