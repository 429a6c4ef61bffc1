// `cugpt train <config> --data FILE [--tokenizer SPEC] --steps N --batch B|auto --seq T [--lr]
// [--dtype] [--device] [--recompute L] [--accum K] [--out DIR [--save-every N] [--keep K]]
// [--resume DIR [--allow-change LIST]] [--init-from FILE] [--eval-every N] [--zero 0|1]
// [--bucket SIZE] [--overlap 0|1]`; under `mpirun -n N`, N data-parallel ranks
// (docs/distributed.md). Checkpoints describe themselves (train/run_record.h): a resumed run that
// differs from the recorded one in what it computes is refused, naming the difference. --out is
// new, empty, or this run's own (io/checkpoint_dir.h); --overwrite replaces another run's
// checkpoints there. Bad options fail before MPI starts; the rest of the setup fails on every
// rank together, in one line (tools/rank_agreement.h).
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "io/checkpoint_dir.h"
#include "io/input_file.h"
#include "io/printable.h"
#include "models/factory.h"
#include "models/init.h"
#include "models/weights.h"
#include "nn/bytes.h"
#include "nn/communicator.h"
#include "text/tokenizer.h"
#include "tools/commands.h"
#include "tools/load_warnings.h"
#include "tools/options.h"
#include "tools/rank_agreement.h"
#include "tools/tokenizer_choice.h"
#include "train/memory_plan.h"
#include "train/run_record.h"
#include "train/trainer.h"

namespace cugpt::tools {

namespace {

std::atomic<bool> g_interrupted{false};

std::string format_scale(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}
extern "C" void on_sigint(int) {
  g_interrupted = true;
}

struct TrainCli {
  std::string config, data, tokenizer = "byte", device = "cpu", dtype = "f32", out, resume,
                            optimizer = "adamw", batch = "8", arena, init_from, allow_change,
                            bucket, offload = "none", host_ram;
  std::int64_t log_every = 1, save_every = 0, keep = 2;
  int overlap = 1;
  bool tokenizer_given = false, keep_given = false, overwrite = false;
  TrainOptions o;
};

// A resumed run computes what the recorded one did, or says what differs. --steps is the total:
// a checkpoint at or past it has nothing left to train.
void check_resume_step(const TrainCli& c, const CheckpointManifest& m) {
  if (m.step >= c.o.steps)
    throw Error("train: --resume '" + printable(c.resume) + "' is at step " +
                std::to_string(m.step) + " and --steps " + std::to_string(c.o.steps) +
                " is the total, not more steps: nothing to train (give --steps above " +
                std::to_string(m.step) + ")");
}

void check_resume(const TrainCli& c, const CheckpointManifest& m, const Metadata& requested,
                  bool root) {
  const std::string where = "train: --resume '" + printable(c.resume) + "'";
  if (!records_run(m.metadata)) {
    if (root)
      std::fprintf(stderr,
                   "cugpt: note: %s records no training arguments (written before checkpoints "
                   "described themselves): they are not compared\n",
                   where.c_str() + 7);
    return;
  }
  const std::set<std::string> allowed = parse_allowed_changes(c.allow_change);
  std::string refused, accepted;
  for (const RunDifference& d : run_differences(m.metadata, requested)) {
    std::string& list = allowed.count(d.name) ? accepted : refused;
    list += (list.empty() ? "" : "; ") + d.option + " " + d.requested +
            " (recorded: " + d.recorded + ")";
  }
  if (!refused.empty())
    throw Error(where + " differs from the recorded run: " + refused +
                " (--allow-change NAME[,NAME] continues with the new value)");
  if (!accepted.empty()) {
    std::printf("resuming with changes (--allow-change): %s\n", accepted.c_str());
    const auto steps = m.metadata.find("train.steps");
    if (allowed.count("steps") && steps != m.metadata.end() &&
        steps->second != std::to_string(c.o.steps))
      std::printf(
          "the learning-rate schedule now ends at step %lld (recorded: %s): from step "
          "%lld its rate is %.3e\n",
          static_cast<long long>(c.o.steps), steps->second.c_str(), static_cast<long long>(m.step),
          learning_rate(c.o, m.step));
  }
}

// A data-parallel rank's step in a memory query: `world` ranks, the rank with the most state.
void set_world(MemoryQuery& q, const TrainCli& c, int world) {
  if (world < 2 || c.o.offload != OffloadMode::none) return;  // offload: the Trainer refuses it
  q.world = world;
  q.rank = -1;
  q.zero = c.o.zero;
  q.bucket_bytes = c.o.bucket_bytes;
}

// --batch auto's search (per rank with several ranks), capped at the data's `data_batch`.
std::int64_t fitting_batch(const MemoryQuery& q, const ModelConfig& config, std::uint64_t budget,
                           Device device, const Dataset& data, std::int64_t data_batch, int world) {
  const std::int64_t fit = max_batch(config, q);
  const std::string ranks = world > 1 ? " of every rank" : "";
  const std::string global = world > 1 ? " per rank (global batch " + std::to_string(fit * world) +
                                             " over " + std::to_string(world) + " ranks)"
                                       : "";
  if (fit == 0)
    throw Error("train: --batch auto: not even batch 1 at T=" + std::to_string(q.seq) +
                " fits the " + format_bytes(budget) + " arena" + ranks + " on " + device.str() +
                " (see `cugpt memory`" + (world > 1 ? " --world " + std::to_string(world) : "") +
                ")");
  if (fit > data_batch) {
    std::printf(
        "batch auto: %lld%s, the training split's %lld tokens in whole sequences (the %s "
        "arena%s on %s fits %lld)\n",
        static_cast<long long>(data_batch),
        world > 1 ? (" per rank (global batch " + std::to_string(data_batch * world) + " over " +
                     std::to_string(world) + " ranks)")
                        .c_str()
                  : "",
        static_cast<long long>(data.train_tokens()), format_bytes(budget).c_str(), ranks.c_str(),
        device.str().c_str(), static_cast<long long>(fit));
    return data_batch;
  }
  std::printf("batch auto: %lld%s, the largest whose step fits the %s arena%s on %s\n",
              static_cast<long long>(fit), global.c_str(), format_bytes(budget).c_str(),
              ranks.c_str(), device.str().c_str());
  return fit;
}

// --batch N (checked before anything else runs).
std::int64_t explicit_batch(const TrainCli& c) {
  std::size_t used = 0;
  long long b = 0;
  try {
    b = std::stoll(c.batch, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != c.batch.size() || b <= 0)
    throw Error("train: --batch must be a positive integer or 'auto', not '" + c.batch + "'");
  if (b > opt::kMaxBatch)
    throw Error("train: --batch " + c.batch + " is out of range [1, " +
                std::to_string(opt::kMaxBatch) + "]");
  return b;
}

// --batch N, or "auto": the largest batch whose training step fits the arena this run will
// get, found by running the step on the meta device before anything is allocated.
// Under mpirun the batch is per rank: the step is the rank with the most optimizer state (ZeRO-1),
// its exchange buffers included (train/memory_world.h), in the smallest of the ranks' arenas;
// rank 0 searches and sends the answer, so every rank trains at the same batch. Every rank
// reaches both collectives: a failed search is agreed on between them.
std::int64_t resolve_batch(const TrainCli& c, const ModelConfig& config, std::uint64_t budget,
                           Device device, const Dataset& data, Communicator* comm) {
  // Whole sequences (with their next-token targets) in the training split, per micro-batch of a
  // step (of all ranks): a larger batch covers the same tokens more than once in every step.
  const int world = comm ? comm->size() : 1;
  const std::int64_t per_step = c.o.seq * c.o.accum * world;
  const std::int64_t data_batch = std::max<std::int64_t>(1, (data.train_tokens() - 1) / per_step);
  if (c.batch != "auto") return explicit_batch(c);
  MemoryQuery q;
  q.mode = MemoryMode::train;
  q.seq = c.o.seq;
  q.dtype = parse_dtype(c.dtype);
  q.optimizer = c.o.optim.kind;
  q.recompute = c.o.recompute;
  q.vram = budget;
  q.offload = c.o.offload;
  q.host_ram = c.o.host_arena ? c.o.host_arena->budget() : 0;
  if (!comm) return fitting_batch(q, config, budget, device, data, data_batch, 1);
  // The smallest arena of the ranks (a cpu arena follows the memory available to each).
  std::vector<double> budgets(static_cast<std::size_t>(world), 0.0);
  budgets[static_cast<std::size_t>(comm->rank())] = static_cast<double>(budget);
  comm->all_reduce_sum(budgets);
  q.vram = static_cast<std::uint64_t>(*std::min_element(budgets.begin(), budgets.end()));
  set_world(q, c, world);
  std::vector<double> answer = {0.0};
  agree(comm, [&] {
    if (comm->rank() == 0)
      answer[0] =
          static_cast<double>(fitting_batch(q, config, q.vram, device, data, data_batch, world));
  });
  comm->all_reduce_sum(answer);
  return static_cast<std::int64_t>(answer[0]);
}

// What the arguments alone decide, checked before MPI starts (every rank would find the same,
// and rank 0 alone says it: tools/main.cpp) and before any file is written. Returns the config.
ModelConfig check_arguments(TrainCli& c) {
  if (c.save_every > 0 && c.out.empty())
    throw Error("train: --save-every needs --out (the directory the checkpoints go to)");
  if (c.keep_given && c.out.empty())
    throw Error("train: --keep needs --out (it counts the checkpoints kept there)");
  if (c.overwrite && c.out.empty())
    throw Error("train: --overwrite needs --out (the directory whose checkpoints it replaces)");
  if (!c.resume.empty() && !c.init_from.empty())
    throw Error(
        "train: --resume continues a run and --init-from starts one from weights: "
        "give one of them");
  if (!c.allow_change.empty() && c.resume.empty())
    throw Error("train: --allow-change applies to --resume");
  parse_allowed_changes(c.allow_change);  // a bad name fails now, before any work
  if (!c.bucket.empty()) c.o.bucket_bytes = opt::parse_size("--bucket", c.bucket);
  c.o.overlap = c.overlap == 1;
  c.o.optim.kind = parse_optimizer(c.optimizer);
  const Device device = parse_device(c.device);
  if (device.is_meta()) throw Error("train needs a device that computes (see `cugpt memory`)");
  parse_dtype(c.dtype);
  c.o.offload = parse_offload(c.offload);
  if (c.o.offload == OffloadMode::none && !c.host_ram.empty())
    throw Error("train: --host-ram sizes the host arena of --offload");
  if (c.batch != "auto") explicit_batch(c);
  const ModelConfig config = load_config(c.config);
  if (!is_causal_lm(config))
    throw Error("train: " + config.name + " is a roberta encoder; cugpt trains the GPT families");
  // (--seq against the positions waits for the plan: a data file that cannot serve this model
  // is the first thing to hear about, as in one process.)
  return config;
}

// The run id of the checkpoints this run writes: a resumed run's own (the checkpoint's; one from
// before run ids continues in its own directory as whatever run that holds), a new one otherwise.
CheckpointDirOptions out_options(const TrainCli& c, const CheckpointManifest& resumed) {
  CheckpointDirOptions o;
  o.keep = static_cast<int>(c.keep);
  o.overwrite = c.overwrite;
  std::error_code ec;
  if (c.resume.empty())
    o.run = new_run_id();
  else if (!resumed.run.empty())
    o.run = resumed.run;
  else if (!std::filesystem::equivalent(c.resume, c.out, ec))
    o.run = new_run_id();
  return o;
}

int run_train(TrainCli& c, const ModelConfig& config, Communicator* comm) {
  const bool root = !comm || comm->rank() == 0;
  const Device device = parse_device(c.device);
  // The setup in two steps, each agreed on by every rank (one line, from rank 0, if any fails);
  // their state lives on after them.
  CheckpointManifest resumed;
  std::unique_ptr<CheckpointDir> out;
  std::unique_ptr<Tokenizer> tokenizer;
  std::optional<Dataset> data;
  std::string data_name;
  std::uint64_t budget = 0, physical = 0, host_ram = 0;
  agree(comm, [&] {
    // Only rank 0 speaks; the others' stdout goes nowhere.
    if (!root && !std::freopen("/dev/null", "w", stdout))
      throw Error("train: cannot silence rank " + std::to_string(comm->rank()));
    // The checkpoint first: a torn or mixed one is refused before anything is read from it, and
    // its step and record are checked before anything is loaded.
    if (!c.resume.empty()) {
      resumed = verify_checkpoint(c.resume);
      check_resume_step(c, resumed);
    }
    // An unwritable --out, one another process writes to, or one holding what this run did not
    // write fails now, not after the training it was to keep; the lock is held until the run
    // ends.
    if (!c.out.empty() && root)
      out = std::make_unique<CheckpointDir>(c.out, out_options(c, resumed));
    // The tokenizer the weights carry unless --tokenizer says otherwise.
    const std::string source = !c.resume.empty() ? c.resume : c.init_from;
    tokenizer = c.tokenizer_given || source.empty()
                    ? choose_tokenizer(c.tokenizer, c.tokenizer_given)
                    : [&] {
                        auto t = checkpoint_tokenizer(source);
                        return t ? std::move(t) : load_tokenizer("byte");
                      }();
    data.emplace(Dataset::load(c.data, config.vocab_size, 0.1, tokenizer.get()));
    data_name =
        data_format(c.data) == DataFormat::text ? c.data + " [" + tokenizer->name() + "]" : c.data;
    budget = c.arena.empty() ? default_budget(device) : opt::parse_size("--arena", c.arena);
    // A cpu arena sized by default is held to what the machine can give now (less a margin for
    // the process itself): sized from physical memory, a --batch auto step was killed by the
    // kernel.
    const std::uint64_t available = opt::available_memory();
    if (device.is_cpu() && c.arena.empty() && available > 0)
      budget = std::min(budget, available / 10 * 8);
    // A cpu arena is host memory: one above the machine's would be found out only by swapping
    // or the OOM killer, long after the work began. (A cuda arena is reserved at once and
    // fails.)
    physical = opt::physical_memory();
    if (device.is_cpu() && physical > 0 && budget > physical)
      throw Error("train: --arena " + format_bytes(budget) + " is more than this machine's " +
                  format_bytes(physical) + " of memory");
    // Everything the run will hold is checked before anything is allocated: the data against
    // one sequence, the step's plan (meta) against the arena, the ids against the machine's
    // memory.
    data->require_sequence(c.data, c.o.seq, c.o.eval_every > 0);
    // Offload: the host arena (pinned on cuda), by default what the machine can give now less a
    // margin, as a cpu arena is. Created now, committed only as the run allocates it.
    if (c.o.offload != OffloadMode::none) {
      host_ram = !c.host_ram.empty() ? opt::parse_size("--host-ram", c.host_ram)
                 : available > 0     ? available / 10 * 8
                                     : default_budget(Device::cpu());
      if (physical > 0 && host_ram > physical)
        throw Error("train: --host-ram " + format_bytes(host_ram) +
                    " is more than this machine's " + format_bytes(physical) + " of memory");
      c.o.host_arena = Arena::create(Device::cpu(), host_ram);
    }
  });
  c.o.batch = resolve_batch(c, config, budget, device, *data, comm);
  std::shared_ptr<Arena> arena;
  std::unique_ptr<Gpt> gpt;
  std::unique_ptr<Trainer> trainer;
  RunRecord record;
  agree(comm, [&] {
    TrainPlanInput plan;
    plan.config_arg = c.config;
    plan.query.batch = c.o.batch;
    plan.query.seq = c.o.seq;
    plan.query.dtype = parse_dtype(c.dtype);
    plan.query.optimizer = c.o.optim.kind;
    plan.query.recompute = c.o.recompute;
    plan.query.offload = c.o.offload;
    plan.query.host_ram = host_ram;
    set_world(plan.query, c, comm ? comm->size() : 1);
    plan.budget = budget;
    plan.device = device;
    plan.physical = physical;
    check_train_plan(config, plan);
    // Said once the run is sure to start (an explicit --batch; auto never exceeds the data), by
    // rank 0 for all.
    if (root && c.o.batch * c.o.seq * c.o.accum >= data->train_tokens())
      std::fprintf(
          stderr,
          "cugpt: warning: a step of %lld x %lld tokens%s covers the %lld training tokens "
          "of %s more than once\n",
          static_cast<long long>(c.o.batch), static_cast<long long>(c.o.seq),
          c.o.accum > 1 ? (" x " + std::to_string(c.o.accum) + " micro-batches").c_str() : "",
          static_cast<long long>(data->train_tokens()), printable(c.data).c_str());
    arena = Arena::create(device, budget);
    gpt = build_gpt(config, arena, parse_dtype(c.dtype), "training");
    init_parameters(*gpt, c.o.seed);
    if (!c.init_from.empty()) {
      const auto report = load_weights(*gpt, c.init_from);
      if (root) print_load_warnings(report, c.init_from);
      std::printf("starting from the weights of %s\n", c.init_from.c_str());
    }
    trainer = std::make_unique<Trainer>(*gpt, *data, c.o, comm);
    record.config = &config;
    record.dtype = parse_dtype(c.dtype);
    record.tokenizer = tokenizer.get();
    record.data = c.data;
    record.data_fnv1a64 = file_fnv1a64("--data", c.data);
    record.init_from = c.init_from;
    record.options = &c.o;
    trainer->describe(run_metadata(record, true), run_metadata(record, false));
    if (!c.resume.empty()) {
      check_resume(c, resumed, run_metadata(record, false), root);
      trainer->resume(c.resume, resumed);  // verified above, before anything was loaded
      std::printf("resumed from %s at step %lld\n", c.resume.c_str(),
                  static_cast<long long>(trainer->steps_done()));
    }
  });
  std::printf(
      "training %s on %s (%s): %s parameters; data %s: %lld train / %lld validation "
      "tokens; B=%lld T=%lld accum %lld, %s, recompute %d\n",
      config.name.c_str(), device.str().c_str(), c.dtype.c_str(),
      std::to_string(gpt->parameter_count()).c_str(), data_name.c_str(),
      static_cast<long long>(data->train_tokens()), static_cast<long long>(data->val_tokens()),
      static_cast<long long>(c.o.batch), static_cast<long long>(c.o.seq),
      static_cast<long long>(c.o.accum), c.optimizer.c_str(), c.o.recompute);
  if (const Offload* o = trainer->offload())
    std::printf(
        "offload %s: host arena %s of %s in use (optimizer states, master weights, the "
        "host's copies of parameters and gradients)\n",
        offload_name(o->mode()), format_bytes(c.o.host_arena->in_use()).c_str(),
        format_bytes(host_ram).c_str());
  if (comm)
    std::printf(
        "data parallel: %d ranks (%s), B=%lld per rank, global batch %lld, zero %d, overlap %s\n",
        comm->size(), comm->name().c_str(), static_cast<long long>(c.o.batch),
        static_cast<long long>(c.o.batch * comm->size()), c.o.zero,
        !c.o.overlap                                     ? "0"
        : trainer->sync() && trainer->sync()->threaded() ? "1 (a communication thread)"
                                                         : "1 (each block's exchange in turn)");
  // The header now, not with the first step's line: through a pipe a first step of a large
  // model is a minute of silence otherwise.
  std::fflush(stdout);
  std::signal(SIGINT, on_sigint);
  const auto save = [&] {
    if (c.out.empty()) return;
    trainer->save(out.get());
    std::printf("checkpoint: %s (step %lld)\n", c.out.c_str(),
                static_cast<long long>(trainer->steps_done()));
    std::fflush(stdout);
  };
  while (trainer->steps_done() < c.o.steps) {
    const StepReport r = trainer->step();
    const ArenaStats s = arena->stats();
    // With f16 loss scaling: the scale this step used, and the steps skipped for overflow.
    const std::string scaling = trainer->optimizer().loss_scaling()
                                    ? " | loss scale " + format_scale(r.loss_scale) +
                                          (r.skipped ? " (overflow: skipped)" : "")
                                    : "";
    if (r.step % c.log_every == 0 || r.step == c.o.steps || r.skipped)
      std::printf(
          "step %5lld/%lld | loss %.4f | lr %.2e | grad norm %.3f | %8.0f tok/s | "
          "%8.1f ms/step | arena %s (peak %s) | skipped %lld%s\n",
          static_cast<long long>(r.step), static_cast<long long>(c.o.steps), r.loss, r.lr,
          r.grad_norm, r.tokens_per_s, r.ms, format_bytes(s.in_use).c_str(),
          format_bytes(s.peak).c_str(), static_cast<long long>(r.skipped_steps), scaling.c_str());
    // Each line as it is made, before the evaluation or the save that may follow.
    std::fflush(stdout);
    if (c.o.eval_every > 0 && (r.step % c.o.eval_every == 0 || r.step == c.o.steps))
      std::printf("step %5lld | validation loss %.4f\n", static_cast<long long>(r.step),
                  trainer->evaluate());
    if (c.save_every > 0 && r.step % c.save_every == 0 && r.step < c.o.steps) save();
    std::fflush(stdout);
    if (g_interrupted) {
      std::printf("interrupted at step %lld\n", static_cast<long long>(r.step));
      save();
      return 130;
    }
  }
  save();
  if (comm) {
    // Each rank's arena peak, for comparison with `cugpt memory --world N` (rank order).
    std::vector<double> peaks(static_cast<std::size_t>(comm->size()), 0.0);
    peaks[static_cast<std::size_t>(comm->rank())] = static_cast<double>(arena->stats().peak);
    comm->all_reduce_sum(peaks);
    std::printf("arena peak per rank:");
    for (const double p : peaks) std::printf(" %.0f", p);
    std::printf(" bytes\n");
  }
  return 0;
}

// Under mpirun (or srun) every rank runs this. The arguments are checked before MPI starts; a
// setup that fails ends every rank through MPI_Finalize with one line from rank 0
// (tools/rank_agreement.h); a fault in the step loop ends them all with MPI_Abort, each failing
// rank naming itself.
int run_ranks(TrainCli& c) {
  const ModelConfig config = check_arguments(c);
  if (launched_world_size() < 2) return run_train(c, config, nullptr);
  std::unique_ptr<Communicator> comm = mpi_communicator();
  std::unique_ptr<Communicator> nccl;
  try {
    // On cuda the gradients are device memory: NCCL moves them, MPI the host values.
    agree(comm.get(), [&] {
      if (parse_device(c.device).is_cuda()) nccl = nccl_communicator(*comm);
    });
    return run_train(c, config, nccl ? nccl.get() : comm.get());
  } catch (const RanksFailed& f) {
    return f.code;  // said by rank 0; MPI_Finalize follows as the communicators go
  } catch (...) {
    std::fprintf(stderr, "cugpt: error: rank %d: %s\n", comm->rank(),
                 error_text(std::current_exception()).c_str());
    std::fflush(stderr);
    comm->abort(1);
    return 1;
  }
}

}  // namespace

void add_train(CLI::App& app) {
  auto c = std::make_shared<TrainCli>();
  auto* sub = app.add_subcommand("train", "Train a GPT-family model (cpu or cuda)");
  sub->add_option("config", c->config, "Config path or bundled name")->required();
  sub->add_option("--data", c->data, "UTF-8 text (encoded by --tokenizer) or uint16/uint32 .bin")
      ->required();
  auto* tokenizer =
      sub->add_option("--tokenizer", c->tokenizer,
                      "For text data: byte, a directory with GPT-2/RoBERTa vocab.json + "
                      "merges.txt, or a checkpoint carrying one (default: the one --resume or "
                      "--init-from records, else byte)")
          ->capture_default_str();
  sub->add_option("--steps", c->o.steps,
                  "Optimizer steps in all, a resumed run's included; the schedule ends there")
      ->check(opt::count(1, opt::kMaxSteps))
      ->capture_default_str();
  sub->add_option("--arena", c->arena,
                  "Arena size (default: the device's budget); 3.6GiB trains as on a 4 GB card")
      ->check(opt::size());
  sub->add_option("--batch", c->batch,
                  "Sequences per micro-batch, or auto: the largest that fits the arena")
      ->capture_default_str();
  sub->add_option("--seq", c->o.seq, "Tokens per sequence")
      ->check(opt::count(1, opt::kMaxTokens))
      ->capture_default_str();
  sub->add_option("--accum", c->o.accum, "Micro-batches per step")
      ->check(opt::count(1, opt::kMaxTokens))
      ->capture_default_str();
  sub->add_option("--lr", c->o.optim.lr, "Peak learning rate")
      ->check(opt::real(0, 10))
      ->capture_default_str();
  sub->add_option("--warmup", c->o.warmup, "Steps of linear warmup before the cosine decay")
      ->check(opt::count(0, opt::kMaxSteps))
      ->capture_default_str();
  sub->add_option("--weight-decay", c->o.optim.weight_decay,
                  "AdamW's decoupled weight decay (matrices and embeddings; not biases or "
                  "LayerNorms)")
      ->check(opt::real(0, 10))
      ->capture_default_str();
  sub->add_option("--clip", c->o.optim.clip, "Global gradient-norm clip (0: off)")
      ->check(opt::real(0, 1e9))
      ->capture_default_str();
  sub->add_option("--optimizer", c->optimizer, "adamw or sgd")->capture_default_str();
  sub->add_option("--recompute", c->o.recompute,
                  "0 keep all; 1 recompute the FFN activation; 2 also LayerNorms; 3 whole blocks")
      ->check(CLI::Range(0, 3))
      ->capture_default_str();
  sub->add_option("--dtype", c->dtype,
                  "f32 or f64 on cpu; f32, bf16 or f16 on cuda (f16: dynamic loss scaling)")
      ->capture_default_str();
  sub->add_option("--device", c->device, "cpu or cuda")->capture_default_str();
  sub->add_option("--seed", c->o.seed, "Initialisation and data seed")
      ->check(opt::seed())
      ->capture_default_str();
  sub->add_option("--eval-every", c->o.eval_every, "Validate every N steps (0: never)")
      ->check(opt::count(0, opt::kMaxSteps))
      ->capture_default_str();
  sub->add_option("--eval-batches", c->o.eval_batches,
                  "Validation batches averaged by each evaluation")
      ->check(opt::count(1, opt::kMaxTokens))
      ->capture_default_str();
  sub->add_option("--log-every", c->log_every, "Print a progress line every N steps")
      ->check(opt::count(1, opt::kMaxSteps))
      ->capture_default_str();
  sub->add_option("--out", c->out,
                  "Checkpoint directory (written at the end, on Ctrl-C and every --save-every "
                  "steps; each checkpoint committed as one unit)");
  sub->add_option("--save-every", c->save_every, "Also save a checkpoint every N steps (0: off)")
      ->check(opt::count(0, opt::kMaxSteps))
      ->capture_default_str();
  auto* keep =
      sub->add_option("--keep", c->keep,
                      "Complete checkpoints kept in --out, the newest and the previous included")
          ->check(opt::count(2, 1000))
          ->capture_default_str();
  sub->add_flag("--overwrite", c->overwrite,
                "Let --out replace another run's checkpoints (only the step directories its "
                "manifest lists; anything else there is still refused)");
  sub->add_option("--resume", c->resume,
                  "Continue from this checkpoint directory (the same data, batch, sequence and "
                  "schedule: see --allow-change)");
  sub->add_option("--allow-change", c->allow_change,
                  "With --resume: arguments that may differ from the recorded run, e.g. "
                  "lr,steps (or all)");
  sub->add_option("--init-from", c->init_from,
                  "Start from these weights (fine-tuning): a .safetensors file, any dtype; the "
                  "optimizer starts fresh");
  sub->add_option("--offload", c->offload,
                  "none, optimizer (AdamW's states and master weights in host memory, updated by "
                  "the cpu) or optimizer+gradients (also only two blocks' gradients on the card)")
      ->capture_default_str();
  sub->add_option("--host-ram", c->host_ram,
                  "With --offload: the host arena's size (default: the memory available now, "
                  "less 20%)")
      ->check(opt::size());
  sub->add_option("--zero", c->o.zero,
                  "Data parallel: 1 shards the optimizer states and master weights over the ranks")
      ->check(CLI::Range(0, 1))
      ->capture_default_str();
  sub->add_option("--bucket", c->bucket,
                  "Data parallel: the bytes of gradients exchanged a round (all ranks' pieces)")
      ->check(opt::size());
  sub->add_option("--overlap", c->overlap,
                  "Data parallel: 1 exchanges each block's gradients while the backward goes on "
                  "(the same bits), 0 after the backward")
      ->check(CLI::Range(0, 1))
      ->capture_default_str();
  on_run(sub, [c, tokenizer, keep] {
    c->tokenizer_given = tokenizer->count() > 0;
    c->keep_given = keep->count() > 0;
    return run_ranks(*c);
  });
}

}  // namespace cugpt::tools
