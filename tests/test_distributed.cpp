// Data-parallel training (train/distributed.h): N ranks launched by mpirun against one process.
// - N ranks at batch B reach the weights of one process at batch N x B within 1e-6 (f32): the
//   same rows, the gradients summed in another order;
// - N ranks are bit-identical to an oracle that runs each rank's slice in turn and adds the
//   gradients in rank order (3 ranks, where the order of the additions matters);
// - ZeRO-1 gives the bits of the unsharded run, its checkpoint resumes on every rank;
// - each rank's arena peak is `cugpt memory --world N`'s prediction for that rank;
// - --overlap 1 gives the bits of --overlap 0; --batch auto is the per-rank batch that fits.
// The runs need `mpirun` and a cugpt built with MPI, and skip with the reason otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "io/checkpoint_dir.h"
#include "io/safetensors.h"
#include "kernels/rank_sum.h"
#include "kernels/runtime.h"
#include "models/factory.h"
#include "models/init.h"
#include "nn/communicator.h"
#include "nn/optimizer.h"
#include "temp_dir_test.h"
#include "train/distributed.h"
#include "train/memory_plan.h"
#include "train/trainer.h"

namespace cugpt {
namespace {

using Tensors = std::map<std::string, std::vector<float>>;

std::string capture(const std::string& command, int* rc = nullptr) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return out;
  char buf[4096];
  while (std::fgets(buf, sizeof(buf), p)) out += buf;
  const int status = pclose(p);
  if (rc) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

std::string mpirun() {
  const std::string path = capture("command -v mpirun");
  if (path.empty()) return "";
  // Under the asan preset, the ranks' leak check is off: Open MPI's plugins, unloaded at
  // MPI_Finalize, leave allocations LeakSanitizer cannot attribute or suppress ("<unknown
  // module>"); every other AddressSanitizer check stays on. (Ignored without ASan.)
  std::string launcher =
      "env ASAN_OPTIONS=detect_leaks=0 " + path.substr(0, path.find('\n')) + " --oversubscribe";
  if (geteuid() == 0) launcher += " --allow-run-as-root";
  return launcher;
}

Tensors read_all(const std::string& path) {
  const SafetensorsFile f = SafetensorsFile::open(path);
  Tensors out;
  for (const SafetensorsEntry& e : f.entries()) {
    std::vector<float> v(static_cast<std::size_t>(e.numel()));
    f.read(e, v.data(), v.size() * sizeof(float));
    out[e.name] = std::move(v);
  }
  return out;
}

Tensors checkpoint(const std::string& dir, const char* file) {
  const CheckpointManifest m = verify_checkpoint(dir);
  return read_all(dir + "/" + m.directory + "/" + file);
}

double max_difference(const Tensors& a, const Tensors& b) {
  double worst = 0;
  for (const auto& [name, v] : a) {
    const auto& w = b.at(name);
    for (std::size_t i = 0; i < v.size(); ++i)
      worst = std::max(worst, std::fabs(static_cast<double>(v[i]) - w[i]));
  }
  return worst;
}

// Why the runs cannot be made here, or "".
std::string no_mpi() {
  if (mpirun().empty()) return "mpirun is not installed (apt-get install openmpi-bin)";
  if (!mpi_built()) return "this cugpt was built without MPI";
  return "";
}
// GTEST_SKIP returns from the function it is in: the test's body.
#define NEED_MPI()                         \
  do {                                     \
    const std::string why = no_mpi();      \
    if (!why.empty()) GTEST_SKIP() << why; \
  } while (0)

constexpr const char* kConfig = "gpt2-bytes-tiny";
constexpr int kSteps = 3, kSeq = 16;

class Distributed : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    std::ofstream text(path("data.txt"));
    // Words from a fixed linear congruential stream: the same text on every machine.
    const char* words[] = {"the ",  "quick ", "brown ", "fox ",  "jumps ", "over ", "a ",
                           "lazy ", "dog ",   "and ",   "runs ", "far ",   "into ", "woods. "};
    std::uint32_t x = 12345;
    for (int i = 0; i < 3000; ++i) text << words[((x = x * 1103515245u + 12345u) >> 16) % 14];
  }
  // `cugpt train` on `ranks` processes (1: no mpirun) at per-rank batch `batch`.
  std::string train(int ranks, int batch, const std::string& out, const std::string& extra = "",
                    int steps = kSteps) {
    const std::string launcher = ranks > 1 ? mpirun() + " -n " + std::to_string(ranks) + " " : "";
    const std::string cmd = launcher + CUGPT_BINARY + " train " + kConfig + " --data " +
                            path("data.txt") + " --steps " + std::to_string(steps) + " --batch " +
                            std::to_string(batch) + " --seq " + std::to_string(kSeq) +
                            " --warmup 1 --out " + path(out) + " " +
                            (extra.find("--lr") == std::string::npos ? "--lr 1e-3 " : "") + extra;
    int rc = 0;
    const std::string log = capture(cmd, &rc);
    EXPECT_EQ(rc, 0) << cmd << "\n" << log;
    return log;
  }
};

// The trainable parameters' element counts, in registry order.
std::vector<std::int64_t> trainable_sizes(const Module& model) {
  std::vector<std::int64_t> sizes;
  for (const auto& p : model.named_parameters())
    if (p.trainable) sizes.push_back(p.tensor.numel());
  return sizes;
}

// ZeRO-1 cuts the flattened parameters by elements: rank r holds [r S, min(N, (r + 1) S)),
// S = ceil(N / world), in pieces that cover every parameter once, whatever its size.
TEST(Sharding, EachRankHoldsCeilNOverWorldElements) {
  auto arena = Arena::create(Device::meta(), 1ull << 40);
  auto model = build_gpt(load_config("gpt2-124m"), arena, DType::f32);
  const std::vector<std::int64_t> sizes = trainable_sizes(*model);
  std::int64_t total = 0, largest = 0;
  for (const std::int64_t n : sizes) total += n, largest = std::max(largest, n);
  for (int world : {1, 2, 3, 4, 8, 7}) {
    const std::int64_t per_rank = (total + world - 1) / world;
    std::vector<std::int64_t> covered(sizes.size(), 0);
    std::size_t split = 0;
    for (int r = 0; r < world; ++r) {
      const ShardLayout layout = ShardLayout::of(*model, world, r);
      std::int64_t held = 0;
      for (std::size_t i = 0; i < sizes.size(); ++i) {
        const ElementRange p = layout.piece(i);
        if (p.empty()) continue;
        EXPECT_EQ(p.first, covered[i]) << "world " << world << " rank " << r << " param " << i;
        covered[i] = p.last;
        held += p.size();
      }
      const std::int64_t want = std::min(total, (r + 1) * per_rank) - std::min(total, r * per_rank);
      EXPECT_EQ(held, want) << "world " << world << " rank " << r;
      if (r == 0)
        for (std::size_t i = 0; i < sizes.size(); ++i) split += !layout.whole(i);
    }
    EXPECT_EQ(covered, sizes) << "world " << world;
    // From 4 ranks on, a rank holds less than wte alone: whole tensors could not give S.
    if (world >= 4) {
      EXPECT_LT(per_rank, largest);
    }
    if (world > 1) {
      EXPECT_GT(split, 0u) << "world " << world;
    }
  }
}

// Ranks as threads of one process, for the traffic of the optimizer itself (the norm's sums, the
// split tensors' pieces): all_reduce_sum in rank order, send and receive through mailboxes.
struct ThreadWorld {
  explicit ThreadWorld(int n) : size(n), values(static_cast<std::size_t>(n)) {}
  int size;
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::vector<double>> values, sum;
  int arrived = 0;
  long generation = 0;
  std::map<std::pair<int, int>, std::deque<std::vector<unsigned char>>> mail;
};

class ThreadCommunicator : public Communicator {
 public:
  ThreadCommunicator(ThreadWorld& world, int rank) : world_(world), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return world_.size; }
  std::string name() const override { return "threads"; }
  void reduce_scatter_sum(void*, void*, const std::vector<std::size_t>&, DType) override {
    throw Error("threads: no reduce-scatter");
  }
  void all_gather(void*, const std::vector<std::size_t>&, DType) override {
    throw Error("threads: no all-gather");
  }
  void all_reduce_sum(std::vector<double>& v) override {
    std::unique_lock<std::mutex> lock(world_.mutex);
    world_.values[static_cast<std::size_t>(rank_)] = v;
    const long generation = world_.generation;
    if (++world_.arrived == world_.size) {
      std::vector<double> sum = world_.values[0];
      for (int r = 1; r < world_.size; ++r)
        for (std::size_t j = 0; j < sum.size(); ++j) sum[j] += world_.values[r][j];
      world_.sum = {sum};
      world_.arrived = 0;
      ++world_.generation;
      world_.changed.notify_all();
    } else {
      world_.changed.wait(lock, [&] { return world_.generation != generation; });
    }
    v = world_.sum[0];
  }
  void send(const void* data, std::size_t bytes, int to) override {
    std::lock_guard<std::mutex> lock(world_.mutex);
    const auto* b = static_cast<const unsigned char*>(data);
    world_.mail[{rank_, to}].emplace_back(b, b + bytes);
    world_.changed.notify_all();
  }
  void receive(void* data, std::size_t bytes, int from) override {
    std::unique_lock<std::mutex> lock(world_.mutex);
    auto& box = world_.mail[{from, rank_}];
    world_.changed.wait(lock, [&] { return !box.empty(); });
    ASSERT_EQ(box.front().size(), bytes);
    std::memcpy(data, box.front().data(), bytes);
    box.pop_front();
  }
  void barrier() override { throw Error("threads: no barrier"); }
  void abort(int) override { throw Error("threads: no abort"); }

 private:
  ThreadWorld& world_;
  int rank_;
};

// 16-bit parameters through f32 master weights (the cuda path's arithmetic, which the cpu's
// host updates reproduce): 3 ranks' pieces, split tensors included, hold the bits of one
// unsharded optimizer's parameters, m, v and masters after 3 clipped AdamW steps, and every
// rank returns the unsharded global norm.
TEST(Sharding, PiecesOfSixteenBitParametersUpdateAsTheWhole) {
  constexpr int kWorld = 3, kSteps = 3;
  const std::vector<Shape> shapes = {{40, 25}, {37}, {50, 100}, {3}, {64, 64}};
  auto arena = Arena::create(Device::cpu(), 16ull << 20);
  const auto values = [](std::size_t n, int salt) {
    std::vector<float> v(n);
    for (std::size_t j = 0; j < n; ++j)
      v[j] = 0.01f * static_cast<float>(static_cast<int>((j * 7919 + salt * 104729) % 201) - 100);
    return v;
  };
  struct Rank {
    Module model;
    TrainingState state;
    std::unique_ptr<Optimizer> opt;
    std::vector<double> norms;
  };
  OptimizerOptions o;
  o.lr = 1e-2;
  o.clip = 0.5;  // the gradients' norm is larger: every step clips
  // rank -1: the unsharded optimizer.
  const auto build = [&](Rank& r, int rank, Communicator* comm) {
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      Tensor t = Tensor::empty(arena, shapes[i], DType::bf16, Category::parameter);
      t.copy_from_floats(values(static_cast<std::size_t>(t.numel()), static_cast<int>(i)));
      r.model.register_parameter("p" + std::to_string(i), t);
    }
    if (rank < 0) {
      r.state = allocate_training_state(r.model, OptimizerKind::adamw);
      r.opt = std::make_unique<Optimizer>(r.model, o, std::move(r.state.optimizer));
    } else {
      const ShardLayout mine = ShardLayout::of(r.model, kWorld, rank);
      r.state = allocate_training_state(r.model, OptimizerKind::adamw, mine);
      r.opt = std::make_unique<Optimizer>(r.model, o, std::move(r.state.optimizer),
                                          OptimizerShard{mine, comm});
    }
  };
  const auto run = [&](Rank& r) {
    for (int step = 0; step < kSteps; ++step) {
      for (std::size_t i = 0; i < r.state.gradients.size(); ++i) {
        Tensor& g = r.state.gradients[i];
        g.copy_from_floats(values(static_cast<std::size_t>(g.numel()), 10 * step + 3));
      }
      r.norms.push_back(r.opt->step(r.state.gradients, o.lr));
    }
  };
  Rank whole;
  build(whole, -1, nullptr);
  run(whole);
  ThreadWorld world(kWorld);
  std::vector<std::unique_ptr<ThreadCommunicator>> comms;
  std::vector<Rank> ranks(kWorld);
  for (int r = 0; r < kWorld; ++r) {
    comms.push_back(std::make_unique<ThreadCommunicator>(world, r));
    build(ranks[static_cast<std::size_t>(r)], r, comms.back().get());
  }
  std::vector<std::thread> threads;
  for (auto& r : ranks) threads.emplace_back([&r, &run] { run(r); });
  for (auto& t : threads) t.join();

  const ShardLayout layout = ShardLayout::of(whole.model, kWorld, 0);
  std::size_t split = 0;
  for (std::size_t i = 0; i < layout.parameters(); ++i) split += !layout.whole(i);
  EXPECT_EQ(split, 2u);
  const auto bits = [](const Tensor& t) {
    std::vector<std::uint16_t> b(static_cast<std::size_t>(t.numel()));
    t.copy_to_host(b.data(), b.size() * 2);
    return b;
  };
  std::map<std::string, std::vector<float>> want;
  for (const auto& [name, t] : whole.opt->named_state()) want[name] = t.to_floats();
  std::size_t compared = 0;
  for (int r = 0; r < kWorld; ++r) {
    const Rank& rank = ranks[static_cast<std::size_t>(r)];
    EXPECT_EQ(rank.norms, whole.norms) << "rank " << r;
    const auto params = rank.model.named_parameters();
    const auto ref = whole.model.named_parameters();
    for (std::size_t i = 0; i < params.size(); ++i) {
      const ElementRange p = layout.piece(i, r);
      const std::vector<std::uint16_t> got = bits(params[i].tensor), full = bits(ref[i].tensor);
      for (std::int64_t j = p.first; j < p.last; ++j)
        ASSERT_EQ(got[static_cast<std::size_t>(j)], full[static_cast<std::size_t>(j)])
            << "rank " << r << " p" << i << "[" << j << "]";
    }
    for (const StateSlot& s : rank.opt->state_slots()) {
      if (!s.tensor) continue;
      const std::vector<float> got = s.tensor->to_floats();
      const std::vector<float>& full = want.at(s.name);
      for (std::size_t j = 0; j < got.size(); ++j)
        ASSERT_EQ(got[j], full[static_cast<std::size_t>(s.first) + j]) << s.name << "[" << j << "]";
      ++compared;
    }
  }
  EXPECT_EQ(compared, 3 * (shapes.size() + split));  // m, v and master of every piece
}

TEST(Sharding, SumsInRankOrder) {
  // 1e8 + 1 - 1e8 in f32: 0 in rank order ((1e8 + 1) rounds to 1e8), 1 in another.
  const float pieces[] = {1e8f, 1.0f, -1e8f};
  float out = -1;
  sum_in_rank_order(pieces, 3, 1, &out, DType::f32);
  EXPECT_EQ(out, (1e8f + 1.0f) + -1e8f);
  EXPECT_EQ(out, 0.0f);
}

TEST(Sharding, LauncherEnvironmentAndStub) {
  ::setenv("OMPI_COMM_WORLD_SIZE", "3", 1);
  EXPECT_EQ(launched_world_size(), 3);
  ::unsetenv("OMPI_COMM_WORLD_SIZE");
  if (!mpi_built()) {
    try {
      mpi_communicator();
      ADD_FAILURE() << "a build without MPI made an MPI communicator";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("built without MPI"), std::string::npos) << e.what();
    }
  }
  // A simulated rank names itself and refuses to move data.
  auto sim = simulated_communicator(1, 4);
  EXPECT_EQ(sim->rank(), 1);
  EXPECT_EQ(sim->size(), 4);
  std::vector<double> v = {1.0};
  EXPECT_THROW(sim->all_reduce_sum(v), Error);
  EXPECT_THROW(simulated_communicator(4, 4), Error);
}

TEST_F(Distributed, TwoRanksMatchOneProcessAtTheGlobalBatch) {
  NEED_MPI();
  // SGD: its update is linear in the gradient, so the two orders of the sums stay within
  // rounding of each other. (AdamW divides by sqrt(v): a gradient that cancels to nearly zero
  // can move its weight by up to lr either way.)
  const std::string sgd = "--optimizer sgd --lr 0.05";
  train(1, 4, "one", sgd);
  const std::string log = train(2, 2, "two", sgd);
  EXPECT_NE(log.find("data parallel: 2 ranks (mpi), B=2 per rank, global batch 4"),
            std::string::npos)
      << log;
  const Tensors a = checkpoint(path("one"), "model.safetensors");
  const Tensors b = checkpoint(path("two"), "model.safetensors");
  ASSERT_EQ(a.size(), b.size());
  const Tensors init = [&] {
    train(1, 4, "zero-steps", "--optimizer sgd --lr 1e-30", 1);
    return checkpoint(path("zero-steps"), "model.safetensors");
  }();
  EXPECT_GT(max_difference(a, init), 1e-3);  // the runs trained
  const double diff = max_difference(a, b);
  std::printf("2 ranks at B=2 vs 1 process at B=4, SGD: max |weight difference| %.3g\n", diff);
  EXPECT_LE(diff, 1e-6);
}

// Each rank's slice run in turn in this process, the gradients added in rank order.
Tensors rank_order_oracle(const std::string& data_path, int world, int batch) {
  const ModelConfig config = load_config(kConfig);
  const Dataset data = Dataset::load(data_path, config.vocab_size, 0.1, nullptr);
  auto arena = Arena::create(Device::cpu(), 256ull << 20);
  auto model = build_gpt(config, arena, DType::f32);
  TrainOptions o;
  o.steps = kSteps;
  o.batch = batch;
  o.seq = kSeq;
  o.optim.lr = 1e-3;
  o.warmup = 1;
  init_parameters(*model, o.seed);
  Training t = make_training(*model, o.optim);
  Batch b;
  b.B = batch;
  b.T = kSeq;
  std::vector<std::int32_t> targets;
  for (std::int64_t step = 0; step < kSteps; ++step) {
    std::vector<std::vector<float>> sum(t.grads.size());
    for (int r = 0; r < world; ++r) {
      t.grads.zero();
      data.train_batch(o.seed, step, batch, kSeq, b.tokens, targets, r * batch);
      model->forward_backward(b, targets, t.grads, 0, 1.0 / world);
      for (std::size_t i = 0; i < t.grads.size(); ++i) {
        std::vector<float> g(static_cast<std::size_t>(t.grads[i].numel()));
        t.grads[i].copy_to_host(g.data(), g.size() * sizeof(float));
        if (r == 0) sum[i] = g;
        for (std::size_t j = 0; r > 0 && j < g.size(); ++j) sum[i][j] += g[j];
      }
    }
    for (std::size_t i = 0; i < t.grads.size(); ++i)
      t.grads[i].copy_from_host(sum[i].data(), sum[i].size() * sizeof(float));
    t.opt.step(t.grads, learning_rate(o, step));
  }
  Tensors out;
  for (const auto& p : model->named_parameters()) {
    std::vector<float> v(static_cast<std::size_t>(p.tensor.numel()));
    p.tensor.copy_to_host(v.data(), v.size() * sizeof(float));
    out[p.name] = std::move(v);
  }
  return out;
}

TEST_F(Distributed, ThreeRanksAreBitIdenticalToTheRankOrderSum) {
  NEED_MPI();
  // A small bucket: several rounds of the exchange per step.
  train(3, 1, "three", "--bucket 4KiB");
  const Tensors got = checkpoint(path("three"), "model.safetensors");
  const Tensors want = rank_order_oracle(path("data.txt"), 3, 1);
  std::size_t compared = 0;
  for (const auto& [name, v] : got) {
    auto it = want.find(name);
    if (it == want.end()) continue;  // the tied lm_head is saved under one name
    ASSERT_EQ(v.size(), it->second.size()) << name;
    for (std::size_t i = 0; i < v.size(); ++i)
      ASSERT_EQ(v[i], it->second[i]) << name << "[" << i << "]";
    ++compared;
  }
  EXPECT_GT(compared, 10u);
}

TEST_F(Distributed, ZeroOneGivesTheUnshardedBitsAndResumes) {
  NEED_MPI();
  // At 3 ranks some parameters are split between ranks: the pieces' updates, the norm's sums of
  // the split tensors and the checkpoint's assembly of their states are under test.
  {
    auto arena = Arena::create(Device::meta(), 1ull << 30);
    auto model = build_gpt(load_config(kConfig), arena, DType::f32);
    const ShardLayout layout = ShardLayout::of(*model, 3, 0);
    std::size_t split = 0;
    for (std::size_t i = 0; i < layout.parameters(); ++i) split += !layout.whole(i);
    EXPECT_GE(split, 2u);
  }
  // AdamW (the default) and SGD with momentum, each against its unsharded run.
  for (const std::string optimizer : {"", "--optimizer sgd --lr 0.05 "}) {
    const std::string tag = optimizer.empty() ? "adamw" : "sgd";
    train(3, 1, "plain" + tag, optimizer + "--bucket 4KiB");
    const std::string log = train(3, 1, "zero" + tag, optimizer + "--zero 1 --bucket 4KiB");
    EXPECT_NE(log.find("zero 1"), std::string::npos) << log;
    for (const char* file : {"model.safetensors", "optimizer.safetensors"}) {
      const Tensors a = checkpoint(path("plain" + tag), file);
      const Tensors b = checkpoint(path("zero" + tag), file);
      ASSERT_EQ(a.size(), b.size()) << file;
      for (const auto& [name, v] : a)
        EXPECT_EQ(v, b.at(name)) << tag << " " << file << ": " << name;
    }
  }
  // Every rank resumes from the full checkpoint (2 steps, then to 3) and loads its shard. With one
  // warmup step, steps 0 and 1 have the same rates in a 2- and a 3-step schedule, so the longer
  // schedule (--allow-change steps) continues as the 3-step run did.
  train(3, 1, "part", "--zero 1 --bucket 4KiB", 2);
  const std::string resumed = train(
      3, 1, "part", "--zero 1 --bucket 4KiB --allow-change steps --resume " + path("part"), kSteps);
  EXPECT_NE(resumed.find("resumed from"), std::string::npos) << resumed;
  const Tensors a = checkpoint(path("plainadamw"), "model.safetensors");
  const Tensors b = checkpoint(path("part"), "model.safetensors");
  for (const auto& [name, v] : a) EXPECT_EQ(v, b.at(name)) << name;
}

// `cugpt memory --world N --rank r` runs rank r's Trainer step on meta: its peak is the peak
// the rank's arena reached in the real run, to the byte, sharded or not.
TEST_F(Distributed, EachRanksArenaIsMetasPrediction) {
  NEED_MPI();
  unsigned long long unsharded = 0;
  for (const char* zero : {"0", "1"}) {
    const std::string flags = std::string("--zero ") + zero + " --bucket 4KiB";
    const std::string log = train(2, 2, std::string("z") + zero, flags, 1);
    std::smatch m;
    ASSERT_TRUE(
        std::regex_search(log, m, std::regex("arena peak per rank: ([0-9]+) ([0-9]+) bytes")))
        << log;
    std::vector<std::string> predicted;
    for (int rank = 0; rank < 2; ++rank) {
      const std::string cmd = std::string(CUGPT_BINARY) + " memory " + kConfig +
                              " --batch 2 --seq " + std::to_string(kSeq) + " --world 2 --rank " +
                              std::to_string(rank) + " " + flags + " --json";
      std::smatch p;
      const std::string json = capture(cmd);
      ASSERT_TRUE(std::regex_search(json, p, std::regex("\"peak_bytes\": ([0-9]+)"))) << json;
      predicted.push_back(p[1]);
    }
    EXPECT_EQ(m[1].str(), predicted[0]) << "zero " << zero;
    EXPECT_EQ(m[2].str(), predicted[1]) << "zero " << zero;
    if (std::string(zero) == "0") {
      unsharded = std::stoull(predicted[0]);
    } else {
      // Each rank holds half of the states: both peaks are below the unsharded one.
      EXPECT_LT(std::stoull(predicted[0]), unsharded);
      EXPECT_LT(std::stoull(predicted[1]), unsharded);
    }
  }
}

// Overlap: each block's exchange runs on the communication thread while the backward goes on
// with the blocks below; the bits are those of the exchange after the backward, sharded or
// not, with accumulation, and the arena is still meta's prediction.
TEST_F(Distributed, OverlapGivesTheBitsOfTheExchangeAfterTheBackward) {
  NEED_MPI();
  for (const char* zero : {"0", "1"}) {
    const std::string flags = std::string("--zero ") + zero + " --bucket 4KiB --accum 2";
    const std::string on = train(3, 1, std::string("on") + zero, flags + " --overlap 1");
    const std::string off = train(3, 1, std::string("off") + zero, flags + " --overlap 0");
    EXPECT_NE(on.find("overlap 1 (a communication thread)"), std::string::npos) << on;
    EXPECT_NE(off.find("overlap 0"), std::string::npos) << off;
    for (const char* file : {"model.safetensors", "optimizer.safetensors"}) {
      const Tensors a = checkpoint(path(std::string("on") + zero), file);
      const Tensors b = checkpoint(path(std::string("off") + zero), file);
      ASSERT_EQ(a.size(), b.size()) << file;
      for (const auto& [name, v] : a) EXPECT_EQ(v, b.at(name)) << "zero " << zero << ": " << name;
    }
  }
  // The arena with overlap on (one step, two ranks) against `cugpt memory --world 2`.
  const std::string log = train(2, 2, "arena", "--bucket 4KiB --overlap 1", 1);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(log, m, std::regex("arena peak per rank: ([0-9]+) ([0-9]+) bytes")))
      << log;
  const std::string json =
      capture(std::string(CUGPT_BINARY) + " memory " + kConfig + " --batch 2 --seq " +
              std::to_string(kSeq) + " --world 2 --bucket 4KiB --json");
  std::smatch p;
  ASSERT_TRUE(std::regex_search(json, p, std::regex("\"peak_bytes\": ([0-9]+)"))) << json;
  EXPECT_EQ(m[1].str(), p[1].str());
  EXPECT_EQ(m[2].str(), p[1].str());
}

// `--batch auto` under mpirun: the per-rank batch of `cugpt memory --world N --max-batch` for
// the arena (the rank with the most state, exchange buffers included), the same on every rank,
// printed once with the global batch; the run fits every rank's arena.
TEST_F(Distributed, BatchAutoIsThePerRankBatchThatFitsEveryRank) {
  NEED_MPI();
  const auto max_batch = [&](const std::string& flags) {
    const std::string json =
        capture(std::string(CUGPT_BINARY) + " memory " + kConfig + " --seq " +
                std::to_string(kSeq) + " --vram 16MiB --reserve 0 --max-batch --json " + flags);
    std::smatch m;
    EXPECT_TRUE(std::regex_search(json, m, std::regex("\"max_batch\": ([0-9]+)"))) << json;
    return m.size() > 1 ? std::stoll(m[1].str()) : -1;
  };
  const long long single = max_batch("");
  for (const char* zero : {"0", "1"}) {
    const long long per_rank = max_batch(std::string("--world 2 --zero ") + zero);
    if (std::string(zero) == "0") {
      EXPECT_LT(per_rank, single);  // the exchange buffers take their share
    }
    const std::string cmd = mpirun() + " -n 2 " + CUGPT_BINARY + " train " + kConfig + " --data " +
                            path("data.txt") + " --steps 1 --batch auto --seq " +
                            std::to_string(kSeq) + " --arena 16MiB --zero " + zero;
    int rc = 0;
    const std::string log = capture(cmd, &rc);
    ASSERT_EQ(rc, 0) << cmd << "\n" << log;
    const std::string said = "batch auto: " + std::to_string(per_rank) +
                             " per rank (global batch " + std::to_string(2 * per_rank) +
                             " over 2 ranks)";
    EXPECT_NE(log.find(said), std::string::npos) << said << "\n" << log;
    EXPECT_EQ(log.find("batch auto:"), log.rfind("batch auto:")) << log;  // rank 0 only
    EXPECT_NE(log.find("B=" + std::to_string(per_rank) + " per rank"), std::string::npos) << log;
    std::smatch m;
    ASSERT_TRUE(
        std::regex_search(log, m, std::regex("arena peak per rank: ([0-9]+) ([0-9]+) bytes")))
        << log;
    for (int r = 1; r <= 2; ++r) EXPECT_LE(std::stoull(m[r].str()), 16ull << 20) << log;
  }
}

// The f32 bytes rank r's pieces take, each piece an allocation of its own.
std::uint64_t piece_bytes(const ShardLayout& layout, int r) {
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < layout.parameters(); ++i)
    bytes += (static_cast<std::uint64_t>(layout.piece(i, r).size()) * 4 + kArenaAlignment - 1) /
             kArenaAlignment * kArenaAlignment;
  return bytes;
}

// `cugpt memory gpt2-124m --mode train --batch 2 --seq 1024 --dtype bf16 --world 4 --zero 1`:
// every rank's optimizer states (m, v) and master weights on meta are its ceil(N / 4) elements'
// (the arena's alignment aside), not bounded below by wte's 50257 x 768; the reported rank is the
// one with the most.
TEST(Sharding, ZeroDividesTheOptimizerStatesByElements) {
  const ModelConfig config = load_config("gpt2-124m");
  auto arena = Arena::create(Device::meta(), 1ull << 40);
  auto model = build_gpt(config, arena, DType::bf16);
  const std::vector<std::int64_t> sizes = trainable_sizes(*model);
  std::int64_t total = 0;
  for (const std::int64_t n : sizes) total += n;
  for (int world : {4, 3}) {
    const ShardLayout layout = ShardLayout::of(*model, world, 0);
    const std::uint64_t per_rank = (static_cast<std::uint64_t>(total) + world - 1) / world;
    std::uint64_t most = 0, planned = 0;
    for (int r = -1; r < world; ++r) {
      MemoryQuery q;
      q.batch = 2;
      q.seq = world == 4 && r < 0 ? 1024 : 64;  // the command, then shorter steps
      q.dtype = DType::bf16;
      q.vram = 1ull << 40;
      q.world = world;
      q.zero = 1;
      q.rank = r;
      const MemoryResult res = simulate_memory(config, q);
      const std::uint64_t states = res.at_end[static_cast<int>(Category::optimizer_state)];
      const std::uint64_t masters = res.at_end[static_cast<int>(Category::master_weight)];
      const int rank = r < 0 ? res.rank : r;
      EXPECT_EQ(states, 2 * piece_bytes(layout, rank)) << world << " rank " << r;
      EXPECT_EQ(masters, piece_bytes(layout, rank)) << world << " rank " << r;
      // 8 bytes an element of m and v, within one alignment per parameter.
      EXPECT_LE(states, 8 * per_rank + 2 * kArenaAlignment * sizes.size()) << world << " " << r;
      if (r >= 0) most = std::max(most, states);
      if (r < 0) planned = states;
      if (r < 0 && world == 4)
        std::printf(
            "gpt2-124m bf16, 4 ranks, zero 1: %llu bytes of optimizer state on rank %d "
            "(8 ceil(N/4) = %llu)\n",
            static_cast<unsigned long long>(states), res.rank,
            static_cast<unsigned long long>(8 * per_rank));
    }
    EXPECT_EQ(planned, most) << world;  // without --rank: the rank with the most
  }
}

// NCCL (cuda ranks): compiled for sm_86/sm_90; these skip without a GPU (and the runs without
// NCCL, MPI or a second GPU: NCCL takes one device per rank).
TEST(Nccl, TheDeviceSumIsTheRankOrderSum) {
  std::string reason;
  if (cuda_device_count(&reason) == 0) GTEST_SKIP() << reason;
  // Three ranks' copies of 1000 elements; element 0 is 1e8 + 1 - 1e8, 0 only in rank order.
  const std::size_t count = 1000;
  std::vector<float> pieces(3 * count);
  for (std::size_t i = 0; i < pieces.size(); ++i) pieces[i] = 0.001f * static_cast<float>(i % 97);
  pieces[0] = 1e8f, pieces[count] = 1.0f, pieces[2 * count] = -1e8f;
  std::vector<float> want(count), got(count);
  sum_in_rank_order(pieces.data(), 3, count, want.data(), DType::f32);
  void* in = cuda_malloc(pieces.size() * 4);
  void* out = cuda_malloc(count * 4);
  cuda_memcpy_h2d(in, pieces.data(), pieces.size() * 4);
  kernels::rank_sum_cuda(in, 3, count, out, DType::f32, nullptr);
  cuda_memcpy_d2h(got.data(), out, count * 4);
  cuda_synchronize();
  cuda_free(in);
  cuda_free(out);
  EXPECT_EQ(got, want);
  EXPECT_EQ(got[0], 0.0f);
}

TEST(Nccl, AWorldOfOneExchangesOnTheDevice) {
  std::string reason;
  if (cuda_device_count(&reason) == 0) GTEST_SKIP() << reason;
  if (!nccl_built()) GTEST_SKIP() << "this cugpt was built without NCCL";
  // MPI's singleton (no launcher) bootstraps a world of one.
  auto host = mpi_communicator();
  auto comm = nccl_communicator(*host);
  EXPECT_EQ(comm->name(), "nccl");
  EXPECT_EQ(comm->size(), 1);
  const std::vector<float> values = {1.5f, -2.0f, 3.25f, 0.125f};
  void* data = cuda_malloc(16);
  void* scratch = cuda_malloc(16);
  cuda_memcpy_h2d(data, values.data(), 16);
  comm->reduce_scatter_sum(data, scratch, {4}, DType::f32);
  comm->all_gather(data, {4}, DType::f32);
  std::vector<float> got(4);
  cuda_memcpy_d2h(got.data(), data, 16);
  cuda_synchronize();
  cuda_free(data);
  cuda_free(scratch);
  EXPECT_EQ(got, values);
}

TEST_F(Distributed, TwoCudaRanksMatchOneProcessAtTheGlobalBatch) {
  std::string reason;
  if (cuda_device_count(&reason) < 2)
    GTEST_SKIP() << (reason.empty() ? "NCCL needs a GPU per rank: fewer than 2 GPUs" : reason);
  if (!nccl_built()) GTEST_SKIP() << "this cugpt was built without NCCL";
  NEED_MPI();
  const std::string sgd = "--optimizer sgd --lr 0.05 --device cuda";
  train(1, 4, "one", sgd);
  const std::string log = train(2, 2, "two", sgd);
  EXPECT_NE(log.find("data parallel: 2 ranks (nccl)"), std::string::npos) << log;
  const double diff = max_difference(checkpoint(path("one"), "model.safetensors"),
                                     checkpoint(path("two"), "model.safetensors"));
  std::printf("2 cuda ranks at B=2 vs 1 process at B=4, SGD: max |weight difference| %.3g\n", diff);
  EXPECT_LE(diff, 1e-5);
}

TEST_F(Distributed, ABuildWithoutMpiRefusesMpirun) {
  if (mpi_built()) GTEST_SKIP() << "this cugpt has MPI (the stub's error is for builds without)";
  int rc = 0;
  const std::string log =
      capture("OMPI_COMM_WORLD_SIZE=2 " + std::string(CUGPT_BINARY) + " train " + kConfig +
                  " --data " + path("data.txt") + " --steps 1 --batch 1 --seq 8",
              &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(log.find("built without MPI"), std::string::npos) << log;
}

}  // namespace
}  // namespace cugpt
