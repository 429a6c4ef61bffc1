#include "kernels/cpu/threads.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "kernels/error.h"

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

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Spins until pred() holds, for at most kSpinMicroseconds; returns pred(). The spin catches the
// next job of a forward pass (microseconds apart) without a futex round trip; past it the
// thread sleeps, so an idle pool, or one whose caller is descheduled, costs other programs
// nothing.
template <typename Pred>
bool spin_briefly(const Pred& pred) {
  using Clock = std::chrono::steady_clock;
  const auto until = Clock::now() + std::chrono::microseconds(kSpinMicroseconds);
  for (int i = 1;; ++i) {
    if (pred()) return true;
    cpu_relax();
    if (i % 64 == 0 && Clock::now() >= until) return pred();
  }
}

using Body = std::function<void(std::int64_t, std::int64_t)>;

// One parallel_chunks call. Chunks are claimed one at a time from `next` by the caller and by
// whichever workers are awake, so a worker the scheduler has not run yet delays nothing: the
// caller waits only for chunks already claimed and still running.
struct Job {
  std::int64_t n = 0, chunk = 1, chunks = 0;
  const Body* body = nullptr;
  std::atomic<std::int64_t> next{0};
  std::atomic<std::int64_t> done{0};  // chunks finished
  std::atomic<int> active{0};         // workers inside work(); changed under the pool's mutex
  std::mutex error_mutex;
  std::exception_ptr error;

  // Returns the chunks this thread ran.
  std::int64_t work() {
    std::int64_t ran = 0;
    for (;;) {
      const std::int64_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks) break;
      try {
        (*body)(c * chunk, std::min(n, (c + 1) * chunk));
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
      ++ran;
    }
    done.fetch_add(ran, std::memory_order_acq_rel);
    return ran;
  }

  bool finished() const {
    return done.load(std::memory_order_acquire) == chunks &&
           active.load(std::memory_order_acquire) == 0;
  }
};

thread_local bool t_in_job = false;  // a chunk's body that calls parallel_chunks runs it inline

// Worker threads that sleep on a condition variable between jobs, after a short spin. A pool
// of our own rather than OpenMP: libgomp's idle workers spin for about 300,000 iterations
// (OMP_WAIT_POLICY and GOMP_SPINCOUNT are read from the environment when the library loads,
// and no call changes them afterwards), and its parallel-for ends in a barrier that waits for
// every thread of the team, descheduled ones included. On a machine where other programs run,
// both made the default thread count many times slower than one thread (issue 29).
class Pool {
 public:
  // Runs the job on the caller and up to `helpers` workers. False (nothing run) when another
  // thread's job holds the pool; that caller then runs its chunks itself.
  bool run(Job& job, int helpers) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    const auto start = Clock::now();
    if (start < inline_until_) return false;
    try {
      while (static_cast<int>(workers_.size()) < helpers) workers_.emplace_back([this] { loop(); });
    } catch (const std::system_error&) {
      // No more threads to be had (a process or container limit): go on with those there are.
      helpers = static_cast<int>(workers_.size());
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      wanted_ = helpers;
      generation_.fetch_add(1, std::memory_order_release);
    }
    if (sleepers_.load(std::memory_order_acquire) > 0) wake_.notify_all();
    t_in_job = true;
    const std::int64_t mine = job.work();
    t_in_job = false;
    const auto own_end = Clock::now();
    {
      // Every chunk is claimed: no worker joins from here on.
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = nullptr;
      wanted_ = 0;
    }
    if (!spin_briefly([&] { return job.finished(); })) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [&] { return job.finished(); });
    }
    if (mine > 0) account(job.chunks, mine, start, own_end, Clock::now());
    return true;
  }

 private:
  using Clock = std::chrono::steady_clock;

  // Whether sharing jobs pays on this machine now. On a machine whose cores are busy with other
  // programs, a worker is sometimes descheduled in the middle of a chunk, and the caller then
  // waits a scheduler time slice (milliseconds) for it: more than many jobs' worth of what the
  // second thread saves. So each job's gain is estimated (the caller's own time per chunk times
  // the chunks, less the time the job took) and summed; when the sum since the last switch
  // falls below -kLossAllowed, jobs run on the caller for a window that doubles each time
  // (kMinInline to kMaxInline) and goes back to kMinInline once sharing has gained kGainToReset.
  // Which thread runs a chunk never changes its bits, so this changes speed only.
  void account(std::int64_t chunks, std::int64_t mine, Clock::time_point start,
               Clock::time_point own_end, Clock::time_point end) {
    const double own = std::chrono::duration<double>(own_end - start).count();
    const double took = std::chrono::duration<double>(end - start).count();
    score_ += own / static_cast<double>(mine) * static_cast<double>(chunks) - took;
    if (score_ < -kLossAllowed) {
      inline_until_ =
          end + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(window_));
      window_ = std::min(2 * window_, kMaxInline);
      score_ = 0;
    } else if (score_ > kGainToReset) {
      window_ = kMinInline;
      score_ = 0;
    }
  }

  static constexpr double kLossAllowed = 1e-3, kGainToReset = 20e-3;  // seconds
  static constexpr double kMinInline = 10e-3, kMaxInline = 1.0;

  void loop() {
    t_in_job = true;  // a worker never starts a nested job
    std::uint64_t seen = 0;
    for (;;) {
      const auto news = [&] { return generation_.load(std::memory_order_acquire) != seen; };
      if (!spin_briefly(news)) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1, std::memory_order_acq_rel);
        wake_.wait(lock, news);
        sleepers_.fetch_sub(1, std::memory_order_acq_rel);
      }
      Job* job = nullptr;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        seen = generation_.load(std::memory_order_acquire);
        if (job_ && wanted_ > 0) {
          job = job_;
          --wanted_;
          job->active.fetch_add(1, std::memory_order_acq_rel);
        }
      }
      if (!job) continue;
      job->work();
      {
        // The last touch of the job: its caller may return, and the job vanish, right after.
        std::lock_guard<std::mutex> lock(mutex_);
        job->active.fetch_sub(1, std::memory_order_acq_rel);
      }
      done_.notify_all();
    }
  }

  std::mutex busy_;   // one job at a time
  std::mutex mutex_;  // job_, wanted_ and the changes of generation_ and a job's active
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  Job* job_ = nullptr;
  int wanted_ = 0;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> sleepers_{0};
  // The caller's side, under busy_: account()'s state.
  double score_ = 0, window_ = kMinInline;
  Clock::time_point inline_until_{};
};

// The pool lives as long as the process (its workers sleep at exit; no destructor has to join
// them). A child of fork() has none of its parent's workers, so it starts a pool of its own.
std::atomic<Pool*> g_pool{nullptr};
std::once_flag g_atfork;

Pool& pool() {
  std::call_once(g_atfork, [] {
    pthread_atfork(nullptr, nullptr, [] { g_pool.store(nullptr, std::memory_order_release); });
  });
  Pool* current = g_pool.load(std::memory_order_acquire);
  if (current) return *current;
  auto* fresh = new Pool();  // no workers yet: deleting a loser is safe
  if (g_pool.compare_exchange_strong(current, fresh, std::memory_order_acq_rel)) return *fresh;
  delete fresh;
  return *current;
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
  if (n <= 0) return 1;
  std::int64_t chunk = std::max<std::int64_t>(
      1, static_cast<std::int64_t>(std::ceil(kMinChunkWork / std::max(cost, 1.0))));
  chunk = std::max(chunk, (n + max_chunks - 1) / max_chunks);
  return std::min(chunk, n);
}

void parallel_chunks(std::int64_t n, std::int64_t chunk, const Body& body, double work) {
  if (n <= 0) return;
  CUGPT_CHECK(chunk > 0, "parallel_chunks: chunk must be positive");
  const std::int64_t chunks = chunk_count(n, chunk);
  const int threads = static_cast<int>(std::min<std::int64_t>(cpu_threads(), chunks));
  const bool small = work >= 0 && work < 2 * kMinChunkWork;
  if (threads > 1 && !small && !t_in_job) {
    Job job;
    job.n = n;
    job.chunk = chunk;
    job.chunks = chunks;
    job.body = &body;
    if (pool().run(job, threads - 1)) {
      if (job.error) std::rethrow_exception(job.error);
      return;
    }
  }
  for (std::int64_t c = 0; c < chunks; ++c) body(c * chunk, std::min(n, (c + 1) * chunk));
}

}  // namespace cugpt::kernels
