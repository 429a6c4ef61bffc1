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

// Waits until pred() holds, for at most kSpinMicroseconds of plain spinning and then, where
// `yield_micros` is longer, by giving the core away (sched_yield) until that many microseconds
// have passed; returns pred(). The plain spin catches the next job of a forward pass without a
// futex round trip; the yielding part bridges the longer gaps between parallel ops (a futex
// wake costs tens of microseconds on a virtual machine) while any other runnable thread gets
// the core first. Past both the thread sleeps, so an idle pool costs other programs nothing.
template <typename Pred>
bool wait_briefly(const Pred& pred, int yield_micros = 0) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto spin_until = start + std::chrono::microseconds(kSpinMicroseconds);
  for (int i = 1;; ++i) {
    if (pred()) return true;
    cpu_relax();
    if (i % 64 == 0 && Clock::now() >= spin_until) break;
  }
  const auto yield_until = start + std::chrono::microseconds(yield_micros);
  while (Clock::now() < yield_until) {
    if (pred()) return true;
    sched_yield();
  }
  return pred();
}

using Body = std::function<void(std::int64_t, std::int64_t)>;

// The chunks of one parallel_chunks call, claimed one at a time from `next` by the caller and
// by whichever workers are awake: a worker the scheduler has not run yet delays nothing, and
// the caller waits only for chunks already claimed and still running.
struct Job {
  std::int64_t n = 0, chunk = 1, chunks = 0;
  const Body* body = nullptr;
  std::atomic<std::int64_t> next{0};
  std::atomic<int> slots{0};  // workers still wanted
  std::mutex error_mutex;
  std::exception_ptr error;

  // Returns the chunks this thread ran.
  std::int64_t work() {
    std::int64_t ran = 0;
    for (;;) {
      const std::int64_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks) return ran;
      try {
        (*body)(c * chunk, std::min(n, (c + 1) * chunk));
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
      ++ran;
    }
  }
};

thread_local bool t_in_job = false;  // a chunk's body that calls parallel_chunks runs it inline

// Worker threads that wait briefly for the next job (kYieldMicroseconds) and then sleep on a
// condition variable. A pool of our own rather than OpenMP: libgomp's idle workers spin for
// about 300,000 iterations (OMP_WAIT_POLICY and GOMP_SPINCOUNT are read from the environment
// when the library loads, and no call changes them afterwards), and its parallel-for ends in a
// barrier that waits for every thread of the team, descheduled ones included. On a machine
// where other programs run, both made the default thread count many times slower than one
// thread (issue 29).
//
// While workers wait awake, a job takes no lock: the pool owns one Job, opened by making
// generation_ odd and closed by making it even. A worker announces itself in active_ and then
// checks that the generation it saw is still open before it touches the job, so once the caller has
// closed the job and seen active_ at zero, no worker can touch it again and the slot is free for
// the next job. Sleeping and waking go through mutex_ and the two condition variables, with the
// seq_cst counters sleepers_ and caller_sleeping_ saying whether anyone must be woken.
class Pool {
 public:
  // Runs [0, chunks) of body on the caller and up to `helpers` workers. False (nothing run)
  // when another thread's job holds the pool or the pool runs jobs inline for now (account());
  // the caller then runs the chunks itself.
  bool run(std::int64_t n, std::int64_t chunk, const Body& body, int helpers,
           std::exception_ptr& error) {
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
    job_.n = n;
    job_.chunk = chunk;
    job_.chunks = chunk_count(n, chunk);
    job_.body = &body;
    job_.error = nullptr;
    job_.next.store(0, std::memory_order_relaxed);
    job_.slots.store(helpers, std::memory_order_relaxed);
    generation_.fetch_add(1);  // odd: open
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      wake_.notify_all();
    }
    t_in_job = true;
    const std::int64_t mine = job_.work();
    t_in_job = false;
    const auto own_end = Clock::now();
    generation_.fetch_add(1);  // even: closed; every chunk is claimed
    // Spin, then sleep (not yield: see kYieldMicroseconds); the last worker out wakes it.
    const auto idle = [&] { return active_.load() == 0; };
    if (!wait_briefly(idle)) {
      std::unique_lock<std::mutex> lock(mutex_);
      caller_sleeping_.store(true);
      finished_.wait(lock, idle);
      caller_sleeping_.store(false);
    }
    error = job_.error;
    if (mine > 0) account(job_.chunks, mine, start, own_end, Clock::now());
    return true;
  }

 private:
  using Clock = std::chrono::steady_clock;

  void loop() {
    t_in_job = true;  // a worker never starts a nested job
    std::uint64_t seen = 0;
    for (;;) {
      const auto news = [&] { return generation_.load() != seen; };
      if (!wait_briefly(news, kYieldMicroseconds)) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1);
        wake_.wait(lock, news);
        sleepers_.fetch_sub(1);
      }
      seen = generation_.load();
      if (seen % 2 == 0) continue;  // closed already
      active_.fetch_add(1);
      if (generation_.load() == seen && job_.slots.fetch_sub(1) > 0) job_.work();
      if (active_.fetch_sub(1) == 1 && caller_sleeping_.load()) {
        std::lock_guard<std::mutex> lock(mutex_);
        finished_.notify_all();
      }
    }
  }

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

  std::mutex busy_;  // one job at a time
  Job job_;
  std::vector<std::thread> workers_;
  std::atomic<std::uint64_t> generation_{0};  // odd while job_ is open
  std::atomic<int> active_{0};                // workers that may be touching job_
  std::mutex mutex_;                          // for the condition variables only
  std::condition_variable wake_, finished_;
  std::atomic<int> sleepers_{0};
  std::atomic<bool> caller_sleeping_{false};
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
    std::exception_ptr error;
    if (pool().run(n, chunk, body, threads - 1, error)) {
      if (error) std::rethrow_exception(error);
      return;
    }
  }
  for (std::int64_t c = 0; c < chunks; ++c) body(c * chunk, std::min(n, (c + 1) * chunk));
}

}  // namespace cugpt::kernels
