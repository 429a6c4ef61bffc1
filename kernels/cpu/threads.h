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
// set (a positive integer; anything else is an error), else the machine's cores.
int cpu_threads();

// n >= 1 sets the count; 0 returns to the default above. Bad values throw cugpt::Error.
void set_cpu_threads(int n);

// The default: CUGPT_THREADS or the machine's cores (the online cpus this process may use).
int default_cpu_threads();

// Runs body(begin, end) for the chunks [0, chunk), [chunk, 2 chunk), ... of [0, n), each
// chunk on one thread, as many threads at once as cpu_threads() allows. The bodies must write
// disjoint memory. Runs inline (no thread start) when there is only one chunk or one thread.
// An exception thrown by a body is rethrown here after every chunk has finished.
void parallel_chunks(std::int64_t n, std::int64_t chunk,
                     const std::function<void(std::int64_t, std::int64_t)>& body);

// The number of chunks of `chunk` items in n items (n > 0), for kernels that keep one partial
// result per chunk.
inline std::int64_t chunk_count(std::int64_t n, std::int64_t chunk) {
  return (n + chunk - 1) / chunk;
}

// A chunk size for n items of `cost` units each (cost ~ the flops or bytes one item takes):
// big enough that a chunk outweighs the ~microsecond it costs to hand it to a thread, with at
// most `max_chunks` chunks. Depends on n and cost only, never on the thread count.
std::int64_t chunk_for(std::int64_t n, double cost, std::int64_t max_chunks = 64);

}  // namespace cugpt::kernels
