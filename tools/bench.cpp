// `cugpt bench <config> --batch B --seq T [--dtype] [--device] [--json]`: times one forward
// case (and batch-1 decode for the GPT families) and reports it against the device's ceilings.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/cost.h"
#include "models/device_sampler.h"
#include "models/factory.h"
#include "models/generate.h"
#include "models/init.h"
#include "models/weights.h"
#include "nn/bytes.h"
#include "nn/device_peaks.h"
#include "tools/against.h"
#include "tools/batch.h"
#include "tools/bench_decode.h"
#include "tools/commands.h"
#include "tools/load_warnings.h"
#include "tools/options.h"
#include "train/memory_plan.h"

namespace cugpt::tools {

namespace {

struct BenchOptions {
  std::string config, device = "cpu", dtype = "f32", weights, peaks = "auto";
  std::int64_t batch = 1, seq = 64, iters = 10, warmup = 2, decode = 32, decode_batch = 1;
  std::string decode_modes = "host";
  bool json = false;
  bool quiet = false;  // return the figures without printing them (report --json)
};

std::string device_name(Device d) {
  if (d.is_cuda()) return cuda_probe(d.index).name;
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "cpu";
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Before anything is allocated, as `train` plans its step: the forward's lower bound
// (parameters and the embedding output, no B x T work) against the arena, the host ids against
// the machine's memory, then the forward itself on the meta device. `bench --batch 89478485
// --seq 24` used to build 8 GB of ids and grow past 6 GB before any check.
void check_bench_plan(const BenchOptions& o, const ModelConfig& config, Device device, DType dtype,
                      std::uint64_t budget) {
  MemoryQuery q;
  q.mode = MemoryMode::forward;
  q.batch = o.batch;
  q.seq = o.seq;
  q.dtype = dtype;
  q.device = Device::meta();
  q.vram = budget;
  q.reserve = 0;
  const std::string case_name =
      "bench: one forward of B=" + std::to_string(o.batch) + " x T=" + std::to_string(o.seq);
  const std::string where = format_bytes(budget) + " arena on " + device.str();
  const std::string details = "see `cugpt memory " + o.config + " --mode forward --batch " +
                              std::to_string(o.batch) + " --seq " + std::to_string(o.seq) +
                              " --dtype " + dtype_name(dtype) + " --vram " +
                              std::to_string(budget) + "B --reserve 0`";
  const PeakBound bound = peak_lower_bound(config, q);
  if (bound.total > budget)
    throw Error(case_name + " needs at least " + format_bytes(bound.total) + " (parameters " +
                format_bytes(bound.parameters) + " + the embedding output " +
                format_bytes(bound.embedding) + "), more than the " + where + " (" + details + ")");
  // The ids are a host vector on every device (B and T are capped by the options: no overflow).
  const std::uint64_t ids =
      static_cast<std::uint64_t>(o.batch) * static_cast<std::uint64_t>(o.seq) * 4;
  const std::uint64_t physical = opt::physical_memory();
  if (physical > 0 && ids > physical)
    throw Error(case_name + ": its token ids take " + format_bytes(ids) +
                " of host memory, more than this machine's " + format_bytes(physical));
  if (o.batch > kMaxStepTokens / o.seq)
    throw Error(case_name + " is more than the " + std::to_string(kMaxStepTokens) +
                " tokens cugpt plans (" + details + ")");
  const MemoryResult r = simulate_memory(config, q);
  if (!r.card_fits && r.peak > budget)
    throw Error(case_name + " peaks at " + format_bytes(r.peak) + " during '" + r.peak_at + "', " +
                format_bytes(r.peak - budget) + " more than the " + where + " (" + details + ")");
  if (!r.card_fits)
    throw Error(case_name + " peaks at " + format_bytes(r.peak) + ", under the " + where +
                ", but at '" + r.ran_out_at + "' no free block of " +
                format_bytes(r.ran_out_requested) + " is left (the arena fragments; " + details +
                ")");
}

nlohmann::json run_bench(const BenchOptions& o) {
  const ModelConfig config = load_config(o.config);
  const Device device = parse_device(o.device);
  const DType dtype = parse_dtype(o.dtype);
  if (device.is_meta()) throw Error("bench needs a device that computes: cpu or cuda");
  check_compute_dtype(device, dtype);
  const std::vector<std::string> decode_modes = parse_decode_modes(o.decode_modes);
  if (o.batch <= 0 || o.seq <= 0 || o.iters <= 0 || o.warmup < 0)
    throw Error("--batch, --seq and --iters must be positive");
  // Checked before the token batch is built: B*T ids in host memory come first.
  if (o.seq > config.max_sequence())
    throw Error("--seq " + std::to_string(o.seq) + " is longer than the " +
                std::to_string(config.max_sequence()) + " positions of " + config.name);
  if (o.batch > (std::int64_t{1} << 31) / o.seq)
    throw Error("--batch " + std::to_string(o.batch) + " x --seq " + std::to_string(o.seq) +
                " is more than 2^31 tokens");
  if (dtype == DType::f64)
    for (const std::string& m : decode_modes)
      if (m != "host" && o.decode > 0 && is_causal_lm(config)) check_device_sampler_dtype(dtype);
  const std::uint64_t budget = default_budget(device);
  check_bench_plan(o, config, device, dtype, budget);
  auto arena = Arena::create(device, budget);
  // A causal LM is built as one, so the decode case below can use it; an encoder as a model.
  std::unique_ptr<Gpt> gpt;
  std::unique_ptr<Model> encoder;
  if (is_causal_lm(config))
    gpt = build_gpt(config, arena, dtype);
  else
    encoder = build_model(config, arena, dtype);
  Model* model = gpt ? static_cast<Model*>(gpt.get()) : encoder.get();
  if (o.weights.empty()) {
    init_parameters(*model, 0);
  } else {
    print_load_warnings(load_weights(*model, o.weights), o.weights);
  }
  Batch batch;
  batch.B = o.batch;
  batch.T = o.seq;
  for (std::int64_t i = 0; i < o.batch * o.seq; ++i)  // any valid ids: speed does not care
    batch.tokens.push_back(static_cast<std::int32_t>((i * 7919 + 3) % config.vocab_size));

  for (std::int64_t i = 0; i < o.warmup; ++i) model->forward(batch);
  arena->reset_peak();
  std::vector<double> ms;
  for (std::int64_t i = 0; i < o.iters; ++i)
    ms.push_back(time_ms(device, [&] { model->forward(batch); }));
  const std::uint64_t arena_peak = arena->stats().peak;

  const std::string name = device_name(device);
  std::optional<DevicePeaks> peaks;
  if (o.peaks != "measured") peaks = published_peaks(name);
  if (!peaks) peaks = measure_peaks(arena, dtype);

  const ForwardCost cost = forward_cost(*model, o.batch, o.seq);
  const double med = median(ms), best = *std::min_element(ms.begin(), ms.end());
  const double tokens_s = static_cast<double>(o.batch * o.seq) / (med / 1e3);
  const double tflops = cost.flops / (med * 1e9), gbs = cost.min_bytes / (med * 1e6);
  const double peak_tf = peaks->tflops(dtype);
  const Against compute{tflops, peak_tf}, memory{gbs, peaks->bandwidth_gbs};

  nlohmann::json j = {
      {"config", config.name},
      {"device", device.str()},
      {"device_name", name},
      {"dtype", dtype_name(dtype)},
      {"batch", o.batch},
      {"seq", o.seq},
      {"iters", o.iters},
      {"ms_median", med},
      {"ms_min", best},
      {"tokens_per_s", tokens_s},
      {"flops", cost.flops},
      {"min_bytes", cost.min_bytes},
      {"tflops", tflops},
      {"gbs", gbs},
      {"arena_peak_bytes", arena_peak},
      {"peaks",
       {{"bandwidth_gbs", peaks->bandwidth_gbs}, {"tflops", peak_tf}, {"source", peaks->source}}},
      {"fraction_of_peak", {{"compute", compute.fraction()}, {"memory", memory.fraction()}}},
      {"above_peak", {{"compute", compute.above()}, {"memory", memory.above()}}}};

  std::vector<std::string> decode_lines;  // each decode path against its roofline, for the text
  if (gpt && o.decode > 0) {
    // Batch-1 decode after a prompt of `seq` tokens: bounded by reading the weights and the
    // KV cache once per token.
    GenerateOptions g;
    g.max_new = std::min<std::int64_t>(o.decode, config.max_positions - o.seq);
    // The prompt and the new tokens share the model's positions: say when that cuts --decode.
    if (g.max_new < o.decode)
      std::fprintf(stderr,
                   "bench: --decode %lld after a %lld-token prompt exceeds the %lld positions of "
                   "%s: %s\n",
                   static_cast<long long>(o.decode), static_cast<long long>(o.seq),
                   static_cast<long long>(config.max_positions), config.name.c_str(),
                   g.max_new > 1
                       ? ("timing " + std::to_string(g.max_new - 1) + " decode steps").c_str()
                       : "no decode timed (lower --seq)");
    if (g.max_new > 1) {
      DecodeBench d;
      d.prompt = o.seq;
      d.steps = g.max_new;
      d.batch = o.decode_batch;
      d.modes = decode_modes;
      // "decode" is the first path's figures (what scripts read), "decode_modes" all of them.
      j["decode_modes"] = bench_decode(*gpt, *peaks, d, &decode_lines);
      j["decode"] = j["decode_modes"][0];
      j["decode"]["steps_requested"] = o.decode;
    }
  }

  if (o.quiet) return j;
  if (o.json) {
    std::printf("%s\n", j.dump(2).c_str());
    return j;
  }
  std::printf("%s forward on %s (%s), %s, B=%lld T=%lld\n", config.name.c_str(),
              device.str().c_str(), name.c_str(), dtype_name(dtype),
              static_cast<long long>(o.batch), static_cast<long long>(o.seq));
  std::printf("  time      %.3f ms median, %.3f ms best of %lld; %.0f tokens/s\n", med, best,
              static_cast<long long>(o.iters), tokens_s);
  std::printf("  compute   %.3g TFLOP/s%s\n", tflops, compute.text("TFLOP/s").c_str());
  std::printf("  memory    %.1f GB/s (lower bound)%s\n", gbs, memory.text("GB/s").c_str());
  std::printf("  ceilings  %s\n", peaks->source.c_str());
  std::printf("  arena     peak %s during the timed forwards (parameters included)\n",
              format_bytes(arena_peak).c_str());
  if (!decode_lines.empty())
    std::printf("  decode    roofline: the weights and the KV cache read once a step (%s)\n",
                peaks->source.c_str());
  for (const std::string& line : decode_lines) std::printf("    %s\n", line.c_str());
  return j;
}

}  // namespace

void print_short_bench(const std::string& config, nlohmann::json* json) {
  BenchOptions o;
  o.config = config;
  std::string reason;
  const bool gpu = cuda_device_count(&reason) > 0;
  o.device = gpu ? "cuda" : "cpu";
  o.dtype = gpu ? "bf16" : "f32";
  o.seq = std::min<std::int64_t>(64, load_config(config).max_sequence());
  o.iters = 3;
  o.warmup = 1;
  o.decode = 8;
  o.quiet = json != nullptr;
  std::fprintf(stderr, "report: timing %s forwards on %s...\n", config.c_str(), o.device.c_str());
  if (!gpu && !json) std::printf("(no GPU: %s; timing the cpu reference path)\n", reason.c_str());
  nlohmann::json j = run_bench(o);
  if (json) {
    if (!gpu) j["note"] = "no GPU: " + reason + "; the cpu reference path";
    *json = j;
  }
}

void add_bench(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  auto* sub = app.add_subcommand("bench", "Time a forward pass against the device's ceilings");
  sub->add_option("config", o->config, "Config path or bundled name")->required();
  sub->add_option("--batch", o->batch, "Sequences per forward")
      ->check(opt::count(1, opt::kMaxBatch))
      ->capture_default_str();
  sub->add_option("--seq", o->seq, "Tokens per sequence")
      ->check(opt::count(1, opt::kMaxTokens))
      ->capture_default_str();
  sub->add_option("--dtype", o->dtype, "Compute dtype: f32, bf16 or f16 (cpu: f32 or f64)")
      ->capture_default_str();
  sub->add_option("--device", o->device, "cpu or cuda[:N]")->capture_default_str();
  sub->add_option("--iters", o->iters, "Timed forwards")
      ->check(opt::count(1, 1000000))
      ->capture_default_str();
  sub->add_option("--warmup", o->warmup, "Untimed forwards first")
      ->check(opt::count(0, 1000000))
      ->capture_default_str();
  sub->add_option("--decode", o->decode, "Batch-1 decode steps to time (0: none)")
      ->check(opt::count(0, opt::kMaxTokens))
      ->capture_default_str();
  sub->add_option("--decode-batch", o->decode_batch, "Rows decoded together")
      ->check(opt::count(1, 4096))
      ->capture_default_str();
  sub->add_option(
         "--decode-modes", o->decode_modes,
         "Decode paths to time, in one process: host, device, graph and/or fused (see generate "
         "--decode), comma-separated")
      ->capture_default_str();
  sub->add_option("--weights", o->weights, "safetensors checkpoint (default: random init)");
  sub->add_option("--peaks", o->peaks,
                  "Ceilings: auto (published for known GPUs, else measured) or measured")
      ->check(CLI::IsMember({"auto", "measured"}))
      ->capture_default_str();
  sub->add_flag("--json", o->json, "Machine-readable output");
  on_run(sub, [o] {
    run_bench(*o);
    return 0;
  });
}

}  // namespace cugpt::tools
