// `cugpt memory <config> --mode train|forward|generate --batch B --seq T [--dtype] [--optimizer]
// [--recompute L] [--vram 4GiB] [--reserve SIZE] [--json] [--max-batch | --max-seq]
// [--plot FILE] [--offload MODE [--host-ram SIZE] [--pcie BW]]`: does it fit, answered by
// running the real step on the meta device (with --offload, the card's and the host's arenas).
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "models/factory.h"
#include "nn/bytes.h"
#include "tools/commands.h"
#include "tools/memory_offload.h"
#include "tools/memory_world.h"
#include "tools/options.h"
#include "train/memory_plan.h"
#include "viz/memory_plot.h"

namespace cugpt::tools {

namespace {

struct MemoryCli {
  std::string config, mode = "train", dtype = "f32", optimizer = "adamw", vram = "4GiB", reserve;
  std::string decode = "host";  // generate: models/generate.h's Decode
  std::string plot;             // a PNG of the step's timeline
  std::int64_t batch = 1, seq = 0;
  int recompute = 0;
  bool json = false, max_batch = false, max_seq = false;
  bool optimizer_given = false, recompute_given = false, batch_given = false, seq_given = false;
  WorldCli world;      // data parallel: tools/memory_world.h
  OffloadCli offload;  // optimizer offload: tools/memory_offload.h
};

// A card's size needs a unit: "--vram 4" would be 4 bytes, never what was meant. 0 needs none.
std::uint64_t size_option(const char* option, const std::string& text) {
  const std::uint64_t bytes = parse_bytes(text);
  const bool unit =
      std::any_of(text.begin(), text.end(), [](unsigned char ch) { return std::isalpha(ch) != 0; });
  if (!unit && bytes != 0)
    throw Error(std::string(option) + " " + text +
                ": give a unit (4GiB, 512MiB; 4096B for bytes): without one it is bytes");
  return bytes;
}

// What the step is, in words, for the first line of the answer.
std::string mode_words(const MemoryCli& c, MemoryMode mode, const ModelConfig& config) {
  if (mode == MemoryMode::train)
    return "training (" + c.optimizer + ", recompute " + std::to_string(c.recompute) + ")";
  if (mode == MemoryMode::forward) return "forward (full logits)";
  if (!config.causal()) return "generate: an encoder does not generate, so one forward";
  if (c.decode == "host") return "generate (prefill + KV-cache decode)";
  return "generate (prefill + KV-cache decode, --decode " + c.decode + ")";
}

// The case asked, repeated in every --json answer so that a saved answer says what it answers.
nlohmann::json query_json(const ModelConfig& config, const MemoryQuery& q) {
  return {{"config", config.name},
          {"mode", memory_mode_name(q.mode)},
          {"dtype", dtype_name(q.dtype)},
          {"optimizer", q.mode == MemoryMode::train ? optimizer_name(q.optimizer) : "none"},
          {"decode", q.mode == MemoryMode::generate ? nlohmann::json(decode_name(q.decode))
                                                    : nlohmann::json(nullptr)},
          {"recompute", q.recompute},
          {"batch", q.batch},
          {"seq", q.seq > 0 ? q.seq : config.max_sequence()},
          {"vram_bytes", q.vram},
          {"reserve_bytes", q.reserve}};
}

// `r` was simulated with q.timeline on; the title spells out the sequence length.
void write_plot(const std::string& path, const ModelConfig& config, MemoryQuery q,
                const MemoryResult& r) {
  if (q.seq <= 0) q.seq = config.max_sequence();
  viz::write_memory_plot(path, config.name, q, r);
}

// A step of more than kMaxExactTokens is not simulated (its host ids alone grow with B x T):
// the lower bound (parameters + the embedding output) answers DOES NOT FIT when it exceeds the
// arena, and anything else is a one-line error rather than a guess.
std::string bound_words(const PeakBound& b, const DType dtype) {
  std::string shape;
  for (std::int64_t d : b.embedding_shape)
    shape += (shape.empty() ? "[" : ", ") + std::to_string(d);
  return "the parameters " + format_bytes(b.parameters) + " + the embedding output " + shape +
         "] " + dtype_name(dtype) + " " + format_bytes(b.embedding);
}

PeakBound settled_bound(const ModelConfig& config, const MemoryQuery& q, std::int64_t T) {
  const PeakBound b = peak_lower_bound(config, q);
  if (b.total <= q.vram - q.reserve)
    throw Error("memory: B x T = " + std::to_string(q.batch) + " x " + std::to_string(T) +
                " tokens is more than the " + std::to_string(kMaxExactTokens) +
                " cugpt simulates, and its lower bound (" + format_bytes(b.total) +
                ") is under the arena's " + format_bytes(q.vram - q.reserve) +
                ": no exact answer (ask for a smaller --batch or --seq, or --max-batch)");
  return b;
}

int answer_by_bound(const MemoryCli& c, const ModelConfig& config, const MemoryQuery& q,
                    const std::string& what) {
  const std::int64_t T = q.seq > 0 ? q.seq : config.max_sequence();
  if (!c.plot.empty())
    throw Error("memory: --plot needs a simulated step, at most " +
                std::to_string(kMaxExactTokens) + " tokens (B x T = " + std::to_string(q.batch) +
                " x " + std::to_string(T) + ")");
  const PeakBound b = settled_bound(config, q, T);
  const std::uint64_t available = q.vram - q.reserve;
  const std::int64_t most = max_batch(config, q), most_tried = max_batch_limit(config, q);
  if (c.json) {
    nlohmann::json j = query_json(config, q);
    j.update(nlohmann::json{{"fits", false},
                            {"exact", false},
                            {"peak_bytes_at_least", b.total},
                            {"parameter_bytes", b.parameters},
                            {"embedding_bytes", b.embedding},
                            {"budget_bytes", q.vram},
                            {"available_bytes", available},
                            {"max_batch", most},
                            {"searched_up_to", most_tried}});
    std::printf("%s\n", j.dump(2).c_str());
    return 3;
  }
  std::printf(
      "%s, %s, %s, B=%lld T=%lld: %s tokens per step, more than the %lld cugpt simulates; a "
      "lower bound answers\n\n",
      config.name.c_str(), dtype_name(q.dtype), what.c_str(), static_cast<long long>(q.batch),
      static_cast<long long>(T), std::to_string(q.batch * T).c_str(),
      static_cast<long long>(kMaxExactTokens));
  std::printf("at least %s: %s\n", format_bytes(b.total).c_str(), bound_words(b, q.dtype).c_str());
  std::printf("card %s, less the reserve %s = %s for the arena\n", format_bytes(q.vram).c_str(),
              format_bytes(q.reserve).c_str(), format_bytes(available).c_str());
  std::printf("DOES NOT FIT: at least %s short\n", format_bytes(b.total - available).c_str());
  std::printf("largest batch that fits this card at T=%lld: %lld%s\n", static_cast<long long>(T),
              static_cast<long long>(most), most == most_tried ? " (the most it tries)" : "");
  return 3;
}

int run_memory(const MemoryCli& c) {
  const ModelConfig config = load_config(c.config);
  MemoryQuery q;
  if (c.mode != "train" && c.mode != "forward" && c.mode != "generate" && c.mode != "infer")
    throw Error("--mode must be train, forward or generate, not '" + c.mode + "'");
  q.mode = parse_memory_mode(c.mode);
  if (q.mode != MemoryMode::train &&
      ((c.optimizer_given && c.optimizer != "none") || (c.recompute_given && c.recompute != 0)))
    throw Error("--optimizer and --recompute apply to --mode train, not " + c.mode);
  q.decode = parse_decode(c.decode);
  if (q.mode != MemoryMode::generate && q.decode != GenerateOptions::Decode::host)
    throw Error("--decode applies to --mode generate, not " + c.mode);
  if (q.mode == MemoryMode::train && c.optimizer == "none")
    throw Error(
        "--optimizer none: a training step needs adamw or sgd (--mode forward is the "
        "step without one)");
  if (c.max_batch && c.batch_given)
    throw Error("--max-batch searches the batch: drop --batch (or drop --max-batch to check it)");
  if (c.max_seq && c.seq_given)
    throw Error("--max-seq searches the sequence: drop --seq (or drop --max-seq to check it)");
  q.batch = c.batch;
  q.seq = c.seq;
  q.dtype = parse_dtype(c.dtype);
  if (q.dtype != DType::f32 && q.dtype != DType::bf16 && q.dtype != DType::f16)
    throw Error("--dtype must be f32, bf16 or f16 (what runs on the card), not '" + c.dtype + "'");
  q.optimizer = parse_optimizer(c.optimizer);
  q.recompute = c.recompute;
  q.vram = size_option("--vram", c.vram);
  q.reserve = c.reserve.empty() ? kDefaultReserve : size_option("--reserve", c.reserve);
  apply_world(c.world, q);
  apply_offload(c.offload, c.world.min_world, q);
  if (c.world.min_world) return run_min_world(config, q, c.json);
  const std::string what = mode_words(c, q.mode, config);
  if (q.reserve >= q.vram) throw Error("memory: the reserve is larger than the card");
  if (c.max_seq && q.batch > kMaxExactTokens) {
    // Not even T = 1 is simulated: only a bound that rules out T = 1 answers.
    MemoryQuery one = q;
    one.seq = 1;
    const PeakBound b = settled_bound(config, one, 1);
    if (c.json) {
      nlohmann::json j = query_json(config, q);
      j.erase("seq");
      j.update(nlohmann::json{{"max_seq", 0}, {"exact", false}, {"peak_bytes_at_least", b.total}});
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf(
          "%s %s in %s, B=%lld: longest sequence that fits %s: 0 (T=1 needs at least %s: %s)\n",
          config.name.c_str(), dtype_name(q.dtype), what.c_str(), static_cast<long long>(q.batch),
          format_bytes(q.vram).c_str(), format_bytes(b.total).c_str(),
          bound_words(b, q.dtype).c_str());
    }
    return 3;
  }
  if (!c.max_batch && !c.max_seq &&
      q.batch > kMaxExactTokens / (q.seq > 0 ? q.seq : config.max_sequence()))
    return answer_by_bound(c, config, q, what);
  if (c.max_batch || c.max_seq) {
    const std::int64_t n = c.max_batch ? max_batch(config, q) : max_seq(config, q);
    const std::int64_t limit = c.max_batch ? max_batch_limit(config, q) : max_seq_limit(config, q);
    // An answer at the search's limit is a lower bound (or, for sequences, the model's own end).
    const std::string bound = n < limit ? ""
                              : !c.max_batch && limit == config.max_sequence()
                                  ? " (the model's longest)"
                                  : " (the most it tries)";
    if (!c.plot.empty()) {
      // The largest case that fits; when none does, the smallest, to show by how much.
      MemoryQuery p = q;
      (c.max_batch ? p.batch : p.seq) = std::max<std::int64_t>(n, 1);
      p.timeline = true;
      write_plot(c.plot, config, p, simulate_memory(config, p));
    }
    if (c.json) {
      nlohmann::json j = query_json(config, q);
      j.erase(c.max_batch ? "batch" : "seq");  // the searched one
      j[c.max_batch ? "max_batch" : "max_seq"] = n;
      j["searched_up_to"] = limit;
      j["at_limit"] = n >= limit;
      add_world_json(j, q, nullptr);
      add_offload_json(j, q, nullptr);
      std::printf("%s\n", j.dump(2).c_str());
    } else if (c.max_batch) {
      std::printf("%s %s in %s, T=%lld: largest batch that fits %s: %lld%s\n", config.name.c_str(),
                  dtype_name(q.dtype), what.c_str(),
                  static_cast<long long>(q.seq > 0 ? q.seq : config.max_sequence()),
                  format_bytes(q.vram).c_str(), static_cast<long long>(n), bound.c_str());
      if (q.world > 1)
        std::printf("per rank, with %d ranks: global batch %lld\n", q.world,
                    static_cast<long long>(n * q.world));
    } else {
      std::printf("%s %s in %s, B=%lld: longest sequence that fits %s: %lld%s\n",
                  config.name.c_str(), dtype_name(q.dtype), what.c_str(),
                  static_cast<long long>(q.batch), format_bytes(q.vram).c_str(),
                  static_cast<long long>(n), bound.c_str());
    }
    if (!c.plot.empty() && !c.json) std::printf("plot written to %s\n", c.plot.c_str());
    return n > 0 ? 0 : 3;  // as a verdict: 3 when not even 1 fits
  }
  MemoryQuery plotted = q;  // only this run records a timeline, not the searches below
  plotted.timeline = !c.plot.empty();
  const MemoryResult r = simulate_memory(config, plotted);
  if (!c.plot.empty()) write_plot(c.plot, config, plotted, r);
  const std::uint64_t smallest = min_vram(config, q);
  const std::int64_t most = max_batch(config, q), most_tried = max_batch_limit(config, q);
  if (c.json) {
    nlohmann::json j = query_json(config, q);
    j.update(nlohmann::json{{"fits", r.fits},
                            {"peak_bytes", r.peak},
                            {"budget_bytes", q.vram},
                            {"reserve_bytes", q.reserve},
                            {"available_bytes", r.available},
                            {"peak_at", r.peak_at},
                            {"ran_out_at", r.ran_out_at},
                            {"min_vram_bytes", smallest},
                            {"max_batch", most},
                            {"searched_up_to", most_tried},
                            {"categories", categories_json(r.at_end, r.at_peak)}});
    add_world_json(j, q, &r);
    add_offload_json(j, q, &r);
    std::printf("%s\n", j.dump(2).c_str());
    return r.fits ? 0 : 3;
  }
  const std::int64_t T = q.seq > 0 ? q.seq : config.max_sequence();
  std::printf("%s, %s, %s, B=%lld T=%lld: the real allocation sequence on the meta device\n\n",
              config.name.c_str(), dtype_name(q.dtype), what.c_str(),
              static_cast<long long>(q.batch), static_cast<long long>(T));
  std::printf("%s", world_words(q, r).c_str());
  std::printf("%-16s %14s %14s\n", "category", "at peak", "end of step");
  std::uint64_t end_total = 0;
  for (int i = 0; i < kNumCategories; ++i) {
    std::printf("%-16s %14s %14s\n", category_name(category_at(i)),
                format_bytes(r.at_peak[i]).c_str(), format_bytes(r.at_end[i]).c_str());
    end_total += r.at_end[i];
  }
  std::printf("%-16s %14s %14s\n", "total", format_bytes(r.peak).c_str(),
              format_bytes(end_total).c_str());
  std::printf("(end of step: what %s)\n\n",
              q.mode == MemoryMode::train
                  ? "the next training step starts from; gradients are zeroed, not freed"
              : q.mode == MemoryMode::generate && config.causal()
                  ? (q.decode == GenerateOptions::Decode::host
                         ? "generation holds between tokens: the weights and the KV cache"
                     : q.decode == GenerateOptions::Decode::device
                         ? "generation holds between tokens: the weights, the KV cache and the "
                           "device sampler's buffers"
                         : "generation holds between tokens: the weights, the KV cache, the "
                           "device sampler's buffers and the captured graph's")
                  : "a forward holds between batches: the weights");
  std::printf("peak %s during '%s'\n", format_bytes(r.peak).c_str(), r.peak_at.c_str());
  std::printf("card %s, less the reserve %s = %s for the arena\n", format_bytes(q.vram).c_str(),
              format_bytes(q.reserve).c_str(), format_bytes(r.available).c_str());
  std::printf("(reserve: the CUDA context and cuBLAS state outside the arena; %s)\n",
              c.reserve.empty() ? "the default, an estimate for a 4 GB card, where a context with "
                                  "lazy loading takes about 300 MB; set it with --reserve"
                                : "as given by --reserve");
  if (r.card_fits) {
    std::printf("FITS with %s headroom\n", format_bytes(r.available - r.peak).c_str());
  } else if (r.peak <= r.available) {
    std::printf(
        "DOES NOT FIT: the peak is under the arena's size, but at %s no free block of %s "
        "was left (largest %s): the arena fragments\n",
        r.ran_out_at.c_str(), format_bytes(r.ran_out_requested).c_str(),
        format_bytes(r.ran_out_largest_free).c_str());
  } else {
    std::printf("DOES NOT FIT: %s short (ran out at %s)\n",
                format_bytes(r.peak - r.available).c_str(), r.ran_out_at.c_str());
  }
  std::printf("smallest card it fits, with this reserve: %s\n", format_bytes(smallest).c_str());
  std::printf("largest batch that fits this card%s at T=%lld: %lld%s\n",
              q.offload == OffloadMode::none ? "" : " and host", static_cast<long long>(T),
              static_cast<long long>(most), most == most_tried ? " (the most it tries)" : "");
  print_offload(c.offload, q, r);
  if (!c.plot.empty()) std::printf("plot written to %s\n", c.plot.c_str());
  return r.fits ? 0 : 3;
}

}  // namespace

void print_memory_verdicts(const std::string& name, nlohmann::json* json) {
  const ModelConfig config = load_config(name);
  const std::int64_t T = std::min<std::int64_t>(256, config.max_sequence());
  const bool trains = is_causal_lm(config);
  if (!json)
    std::printf(
        "4 GiB card, %s reserve, T=%lld (largest batch that fits; N+: the search stopped at N; "
        "meta-device runs). forward: the full [B, T, V] logits, as `forward` and `bench` "
        "compute them; generate: prefill + KV-cache decode, as `generate`.\n",
        format_bytes(kDefaultReserve).c_str(), static_cast<long long>(T));
  nlohmann::json out = {{"card_bytes", 4ull << 30},
                        {"reserve_bytes", kDefaultReserve},
                        {"seq", T},
                        {"largest_batch", nlohmann::json::object()}};
  if (!trains)
    out["note"] = config.name +
                  " is an encoder: cugpt trains and generates with the GPT families only, so "
                  "its verdict is a forward";
  // Each search is a few dozen meta-device steps: seconds for the larger models.
  const auto largest = [&](const MemoryQuery& q, const std::string& key, const char* dtype) {
    std::fprintf(stderr, "report: searching the largest %s batch, %s...\n", key.c_str(), dtype);
    const std::int64_t n = max_batch(config, q);
    const bool at_limit = n == max_batch_limit(config, q);
    out["largest_batch"][dtype][key] = {{"batch", n}, {"at_limit", at_limit}};
    return std::to_string(n) + (at_limit ? "+" : "");
  };
  for (const char* dtype : {"f32", "bf16"}) {
    MemoryQuery q;
    q.seq = T;
    q.dtype = parse_dtype(dtype);
    q.reserve = kDefaultReserve;
    std::string line = std::string("  ") + dtype + std::string(5 - std::string(dtype).size(), ' ');
    if (trains) {
      for (int r : {0, 3}) {
        q.recompute = r;
        const std::string key = "train_adamw_recompute_" + std::to_string(r);
        line += "  train AdamW recompute " + std::to_string(r) + ": " + largest(q, key, dtype);
      }
    }
    q.recompute = 0;
    q.optimizer = OptimizerKind::none;
    q.mode = MemoryMode::forward;
    line += "  forward: " + largest(q, "forward", dtype);
    if (trains) {
      q.mode = MemoryMode::generate;
      line += "  generate: " + largest(q, "generate", dtype);
    }
    if (!json) std::printf("%s\n", line.c_str());
  }
  if (!trains && !json)
    std::printf("  (no train or generate verdict: %s)\n", out["note"].get<std::string>().c_str());
  if (json) *json = out;
}

void add_memory(CLI::App& app) {
  auto c = std::make_shared<MemoryCli>();
  auto* sub = app.add_subcommand("memory", "Does it fit? The exact peak from a meta-device run");
  sub->add_option("config", c->config, "Config path or bundled name")->required();
  sub->add_option("--mode", c->mode,
                  "train (forward, backward, optimizer step), forward (the full [B,T,V] logits, "
                  "as forward and bench), or generate (prefill + KV-cache decode; infer is its "
                  "old name)")
      ->capture_default_str();
  sub->add_option("--decode", c->decode,
                  "generate: the decode step as `generate --decode` runs it: host, device (the "
                  "device sampler's buffers too), graph or fused (also what a captured graph "
                  "holds)")
      ->capture_default_str();
  auto* batch = sub->add_option("--batch", c->batch, "Sequences")
                    ->check(opt::count(1, opt::kMaxBatch))
                    ->capture_default_str();
  auto* seq =
      sub->add_option("--seq", c->seq, "Tokens per sequence (default: the longest the model takes)")
          ->check(opt::count(1, opt::kMaxTokens));
  sub->add_option("--dtype", c->dtype, "f32, bf16 or f16")->capture_default_str();
  auto* optimizer = sub->add_option("--optimizer", c->optimizer, "adamw or sgd (train only)")
                        ->capture_default_str();
  auto* recompute =
      sub->add_option("--recompute", c->recompute, "Activation recompute level 0-3 (train only)")
          ->check(CLI::Range(0, 3))
          ->capture_default_str();
  sub->add_option("--vram", c->vram, "The card's memory, with a unit (4GiB)")
      ->check(opt::size())
      ->capture_default_str();
  sub->add_option("--reserve", c->reserve,
                  "Memory outside the arena (default " + format_bytes(kDefaultReserve) +
                      ": CUDA context + cuBLAS state)")
      ->check(opt::size(0));
  auto* max_batch = sub->add_flag("--max-batch", c->max_batch, "Print the largest batch that fits");
  auto* max_seq = sub->add_flag("--max-seq", c->max_seq, "Print the longest sequence that fits")
                      ->excludes(max_batch);
  sub->add_flag("--json", c->json, "Machine-readable output");
  sub->add_option("--plot", c->plot,
                  "Write a PNG of the step's memory timeline (with --max-batch/--max-seq: of "
                  "the largest case that fits)");
  add_world_options(sub, c->world);
  // --min-world is a search of its own, answered before the others would run: asked together,
  // one would be dropped without a word.
  sub->get_option("--min-world")->excludes(max_batch)->excludes(max_seq);
  add_offload_options(sub, c->offload);
  on_run(sub, [c, optimizer, recompute, batch, seq] {
    c->optimizer_given = optimizer->count() > 0;
    c->recompute_given = recompute->count() > 0;
    c->batch_given = batch->count() > 0;
    c->seq_given = seq->count() > 0;
    return run_memory(*c);
  });
}

}  // namespace cugpt::tools
