// The cpu kernels' thread pool (kernels/cpu/threads.h) on a machine shared with other work:
// idle workers sleep, small jobs stay on the caller, the default is the cores this process may
// run on, a child of fork() gets working threads, two callers at once both finish, and the
// default threads on a machine whose cores are busy with other programs are not much slower
// than one thread (libgomp's spinning team was 8x to 1000x slower there: issue 29).
// test_threads.cpp holds the same-bits-at-any-thread-count tests.
#include <gtest/gtest.h>

#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cpu/threads.h"
#include "kernels/error.h"
#include "kernels/matmul.h"

namespace cugpt {
namespace {

using kernels::parallel_chunks;
using kernels::set_cpu_threads;

struct Threads {
  explicit Threads(int n) { set_cpu_threads(n); }
  ~Threads() { set_cpu_threads(0); }
};

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Runs f in a child process (alarm after `seconds`); the child's exit code, or 128 + signal.
int in_child(const std::function<int()>& f, unsigned seconds = 20) {
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(seconds);
    int rc = 1;
    try {
      rc = f();
    } catch (...) {
      rc = 99;
    }
    _exit(rc);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A job of `chunks` chunks that each take about `flops` of GEMM work, summed into one number
// per chunk, so that it cannot be optimised away and is checked against one thread's result.
struct GemmJob {
  int IC = 64, OC = 256, rows = 16;
  std::vector<float> x, w;
  GemmJob() : x(static_cast<std::size_t>(rows) * IC), w(static_cast<std::size_t>(IC) * OC) {
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7) * 0.25f;
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 5) * 0.5f;
  }
  std::vector<float> run(int chunks) const {
    std::vector<float> sums(static_cast<std::size_t>(chunks));
    parallel_chunks(chunks, 1, [&](std::int64_t a, std::int64_t b) {
      std::vector<float> y(static_cast<std::size_t>(rows) * OC);
      for (std::int64_t c = a; c < b; ++c) {
        kernels::matmul_forward_cpu(y.data(), x.data(), w.data(), nullptr, rows, IC, OC, false);
        float s = 0;
        for (const float v : y) s += v;
        sums[static_cast<std::size_t>(c)] = s + static_cast<float>(c);
      }
    });
    return sums;
  }
};

TEST(ThreadPool, IdleWorkersSleep) {
  Threads t(2);
  GemmJob job;
  for (int i = 0; i < 20; ++i) job.run(8);  // the workers exist and have just worked
  const double before = cpu_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const double used = cpu_seconds() - before;
  // The pool's workers spin 50 us and yield their core up to 1 ms, then sleep: 1.1-1.8 ms of
  // cpu in all here. (OpenMP's default spin kept its idle worker busy 4-9 ms after a region.)
  EXPECT_LT(used, 0.003) << "the process used " << used << " s of cpu while idle for 0.3 s";
}

TEST(ThreadPool, SmallJobsRunOnTheCallingThread) {
  Threads t(4);
  const auto caller = std::this_thread::get_id();
  for (const double work : {0.0, 1000.0, 2 * kernels::kMinChunkWork - 1}) {
    std::vector<std::thread::id> who(16);
    parallel_chunks(
        16, 1,
        [&](std::int64_t a, std::int64_t b) {
          for (std::int64_t c = a; c < b; ++c)
            who[static_cast<std::size_t>(c)] = std::this_thread::get_id();
        },
        work);
    for (const auto& id : who) EXPECT_EQ(caller, id) << "work " << work;
  }
}

TEST(ThreadPool, NestedJobsRunInlineAndEveryChunkOnce) {
  Threads t(2);
  std::vector<std::atomic<int>> seen(40 * 30);
  parallel_chunks(40, 1, [&](std::int64_t a, std::int64_t b) {
    for (std::int64_t i = a; i < b; ++i)
      parallel_chunks(30, 1, [&](std::int64_t c, std::int64_t d) {
        for (std::int64_t j = c; j < d; ++j) seen[static_cast<std::size_t>(i * 30 + j)]++;
      });
  });
  for (const auto& s : seen) EXPECT_EQ(1, s.load());
}

TEST(ThreadPool, TwoCallersAtOnceBothFinishWithTheirOwnResults) {
  Threads t(2);
  const GemmJob job;
  const std::vector<float> expected = [&] {
    Threads one(1);
    return job.run(24);
  }();
  std::vector<std::vector<float>> got(2);
  std::vector<std::thread> callers;
  for (int k = 0; k < 2; ++k)
    callers.emplace_back([&, k] {
      for (int i = 0; i < 30; ++i) got[static_cast<std::size_t>(k)] = job.run(24);
    });
  for (auto& c : callers) c.join();
  EXPECT_EQ(expected, got[0]);
  EXPECT_EQ(expected, got[1]);
}

TEST(ThreadPool, ExceptionLeavesThePoolUsable) {
  Threads t(2);
  for (int round = 0; round < 3; ++round) {
    EXPECT_THROW(parallel_chunks(64, 1,
                                 [](std::int64_t a, std::int64_t) {
                                   if (a % 9 == 4) throw Error("chunk " + std::to_string(a));
                                 }),
                 Error);
    std::vector<int> seen(64, 0);
    parallel_chunks(64, 1, [&](std::int64_t a, std::int64_t b) {
      for (std::int64_t i = a; i < b; ++i) ++seen[static_cast<std::size_t>(i)];
    });
    EXPECT_EQ(std::vector<int>(64, 1), seen);
  }
}

TEST(ThreadPool, AForkedChildGetsWorkingThreads) {
  Threads t(2);
  const GemmJob job;
  const std::vector<float> expected = job.run(16);  // the parent's workers exist now
  const int rc = in_child([&] {
    // The child has none of the parent's workers: a job must neither hang nor lose chunks.
    for (int i = 0; i < 20; ++i)
      if (job.run(16) != expected) return 3;
    return 0;
  });
  EXPECT_EQ(0, rc) << "a job in a child of fork() " << (rc == 128 + SIGALRM ? "hung" : "failed");
}

TEST(ThreadPool, DefaultIsTheCoresThisProcessMayRunOn) {
  cpu_set_t set;
  ASSERT_EQ(0, sched_getaffinity(0, sizeof(set), &set));
  const int allowed = CPU_COUNT(&set);
  const int rc = in_child([] {
    unsetenv("CUGPT_THREADS");  // the tests' environment sets 1
    cpu_set_t mine;
    sched_getaffinity(0, sizeof(mine), &mine);
    const int n = CPU_COUNT(&mine);
    if (kernels::default_cpu_threads() != n) return 10 + kernels::default_cpu_threads();
    int first = 0;
    while (!CPU_ISSET(first, &mine)) ++first;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    if (sched_setaffinity(0, sizeof(one), &one) != 0) return 4;
    return kernels::default_cpu_threads() == 1 ? 0 : 20 + kernels::default_cpu_threads();
  });
  EXPECT_EQ(0, rc) << "default_cpu_threads() against " << allowed
                   << " allowed cores (rc 1x: all of them, 2x: one core)";
}

// Every core this process may run on busy with another program (one spinning process each),
// as on a laptop running other work: the default thread count must not be much slower than
// one thread. The caller must not wait for a worker the scheduler is not running, and no
// thread may spin at a barrier for a descheduled one (OpenMP's default did both: 7x slower
// here, 8x to 1000x in the issue). Rounds alternate the two counts and the medians are
// compared; the bound is loose (a collapse test, not a benchmark: docs/benchmarks.md has the
// measured ratios) because ctest runs other tests beside it.
TEST(ThreadPool, DefaultThreadsOnABusyMachineAreNotMuchSlowerThanOne) {
  cpu_set_t set;
  ASSERT_EQ(0, sched_getaffinity(0, sizeof(set), &set));
  const int cores = CPU_COUNT(&set);
  if (cores < 2) GTEST_SKIP() << "one core: the default is one thread";
  const int rc = in_child(
      [cores] {
        std::vector<pid_t> busy;
        for (int i = 0; i < cores; ++i) {
          const pid_t pid = fork();
          if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives the test
            for (volatile unsigned long k = 0;; ++k) {
            }
          }
          busy.push_back(pid);
        }
        const GemmJob job;
        const auto time_rounds = [&](int threads) {
          set_cpu_threads(threads);
          const auto t0 = std::chrono::steady_clock::now();
          for (int i = 0; i < 150; ++i) job.run(8);
          return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        };
        std::vector<double> one, all;
        time_rounds(cores);  // the workers exist
        for (int round = 0; round < 9; ++round) {
          one.push_back(time_rounds(1));
          all.push_back(time_rounds(cores));
        }
        for (const pid_t pid : busy) {
          kill(pid, SIGKILL);
          waitpid(pid, nullptr, 0);
        }
        std::sort(one.begin(), one.end());
        std::sort(all.begin(), all.end());
        const double ratio = all[4] / one[4];
        std::fprintf(stderr,
                     "%d threads / 1 thread with %d busy processes: %.2f (%.1f / %.1f ms)\n", cores,
                     cores, ratio, 1e3 * all[4], 1e3 * one[4]);
        return ratio < 2.0 ? 0 : 5;
      },
      60);
  EXPECT_EQ(0, rc) << (rc == 5 ? "the default threads were more than 2x slower than one"
                               : "the child failed");
}

}  // namespace
}  // namespace cugpt
