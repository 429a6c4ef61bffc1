// `cugpt generate CONFIG --weights FILE (--tokens "..." | --text "..." [--text ...]) ...`:
// continues each prompt (any lengths, one batch) with a KV cache; see docs/generation.md.
// Output (stdout): text, the prompt echoed and its continuation (streamed token by token for
// one prompt), when the prompt is text or a --tokenizer is named; else, or with --ids, the new
// ids of each prompt on a line; with --json one object. Timings go to stderr (except --json).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/device_sampler.h"
#include "models/factory.h"
#include "models/generate.h"
#include "models/weights.h"
#include "nn/bytes.h"
#include "text/tokenizer.h"
#include "tools/batch.h"
#include "tools/commands.h"
#include "tools/load_warnings.h"
#include "tools/options.h"
#include "tools/tokenizer_choice.h"

namespace cugpt::tools {

namespace {

constexpr const char* kEndOfText = "<|endoftext|>";

struct GenerateCli {
  std::string config, weights, tokens, tokenizer = "byte", device = "cpu", dtype = "f32",
                                       sampler = "host", decode = "host";
  std::vector<std::string> texts, stop_ids;
  bool tokens_given = false, tokenizer_given = false;
  bool ignore_eos = false, ids = false, json = false, no_echo = false;
  GenerateOptions options;
};

std::string quoted(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The prompt rows: parsed ids, or each --text encoded by the tokenizer.
std::vector<std::vector<std::int32_t>> prompt_rows(const GenerateCli& o, const Tokenizer& tok) {
  if (o.tokens_given && !o.texts.empty())
    throw Error("generate: --tokens and --text are mutually exclusive; give the prompt one way");
  if (!o.tokens_given && o.texts.empty())
    throw Error("generate: no prompt; give --tokens \"1,2,3\" or --text \"...\"");
  if (o.tokens_given) return parse_token_rows(o.tokens);
  std::vector<std::vector<std::int32_t>> rows;
  for (const std::string& text : o.texts) {
    rows.push_back(tok.encode(text));
    if (rows.back().empty())
      throw Error("generate: --text " + quoted(text) + " encodes to no tokens");
  }
  return rows;
}

// The end-of-text id of a GPT-2 BPE tokenizer (its "<|endoftext|>" special token), or -1: the
// byte tokenizer has none.
std::int32_t end_of_text(const Tokenizer& tok, std::int64_t vocab) {
  const std::vector<std::int32_t> ids = tok.encode(kEndOfText);
  if (ids.size() != 1 || ids[0] >= vocab || tok.decode(ids) != kEndOfText) return -1;
  return ids[0];
}

std::vector<std::int32_t> stop_set(const GenerateCli& o, const Tokenizer* tok, std::int64_t vocab) {
  std::vector<std::int32_t> ids;
  for (const std::string& s : o.stop_ids) {
    const auto rows = parse_token_rows(s, "--stop-id");
    if (rows.size() != 1) throw Error("--stop-id: ids are separated by ',', not ';'");
    ids.insert(ids.end(), rows[0].begin(), rows[0].end());
  }
  if (!o.ignore_eos && tok) {
    const std::int32_t eos = end_of_text(*tok, vocab);
    if (eos >= 0 && std::find(ids.begin(), ids.end(), eos) == ids.end()) ids.push_back(eos);
  }
  return ids;
}

std::string id_line(const std::vector<std::int32_t>& ids) {
  std::string line;
  for (std::int32_t t : ids) line += (line.empty() ? "" : ",") + std::to_string(t);
  return line;
}

// The text of ids; one the tokenizer does not know (a model's vocabulary may be padded past
// the tokenizer's) is U+FFFD.
std::string text_of(const Tokenizer& tok, const std::vector<std::int32_t>& ids) {
  std::string out;
  std::vector<std::int32_t> run;
  for (std::int32_t id : ids) {
    if (id < tok.vocab_size()) {
      run.push_back(id);
      continue;
    }
    out += tok.decode(run) + "\xEF\xBF\xBD";
    run.clear();
  }
  return out + tok.decode(run);
}

void put(const std::string& bytes) {
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
  std::fflush(stdout);
}

int run_generate(const GenerateCli& o) {
  const ModelConfig config = load_config(o.config);
  if (!is_causal_lm(config))
    throw Error(config.name + " is an encoder (roberta): it does not generate text");
  const Device device = parse_device(o.device);
  if (device.is_meta()) throw Error("generate needs a device with memory: cpu or cuda");
  if (o.ids && o.json) throw Error("generate: --ids and --json are mutually exclusive");
  if (o.sampler != "host" && o.sampler != "device")
    throw Error("--sampler must be host or device, not '" + o.sampler + "'");
  bool recorded = false;
  // (vocab 0: no note about a byte tokenizer on a large model; the check below is an error.)
  const auto tokenizer = choose_tokenizer(o.tokenizer, o.tokenizer_given, o.weights, 0, &recorded);
  const auto prompts = prompt_rows(o, *tokenizer);
  // Text is decoded when the prompt is text or a tokenizer is named or recorded in the weights;
  // else the ids are printed.
  const bool decodes = !o.texts.empty() || o.tokenizer_given || recorded;
  const bool text_out = decodes && !o.ids && !o.json;
  // A text prompt without --tokenizer on a model beyond the bytes: the tokenizer was forgotten.
  if (decodes && !o.tokenizer_given && !recorded && tokenizer->vocab_size() < config.vocab_size)
    throw Error("generate: the " + tokenizer->name() + " tokenizer's " +
                std::to_string(tokenizer->vocab_size()) + " ids do not cover the " +
                std::to_string(config.vocab_size) + " of " + config.name +
                "; give its --tokenizer, or --tokens without one for ids");
  GenerateOptions options = o.options;
  options.stop_ids = stop_set(o, decodes ? tokenizer.get() : nullptr, config.vocab_size);
  options.device_sampler = o.sampler == "device";
  options.decode = parse_decode(o.decode);
  if (options.decode != GenerateOptions::Decode::host && o.sampler == "host")
    throw Error("generate: --decode " + o.decode + " samples on the device; give --sampler device");
  if (options.device_sampler) check_device_sampler_dtype(parse_dtype(o.dtype));

  check_generation(config, prompts, options);  // before the prompt is echoed

  auto arena = Arena::create(device, default_budget(device));
  auto gpt = build_gpt(config, arena, parse_dtype(o.dtype), "generation");
  print_load_warnings(load_weights(*gpt, o.weights), o.weights);

  // One prompt in text mode streams: the prompt now, then each token as it is sampled.
  const bool stream = text_out && prompts.size() == 1;
  if (stream && !o.no_echo) put(text_of(*tokenizer, prompts[0]));
  TokenCallback on_token;
  if (stream) on_token = [&](std::size_t, std::int32_t t) { put(text_of(*tokenizer, {t})); };
  const GenerateResult r = generate(*gpt, prompts, options, on_token);

  const ArenaStats s = arena->stats();
  const std::uint64_t kv_bytes = s.peak_by_category[static_cast<int>(Category::kv_cache)];
  const double total_ms = r.prefill_ms + r.decode_ms;
  const double tokens_per_s = total_ms > 0 ? 1000.0 * r.new_tokens / total_ms : 0.0;
  if (o.json) {
    nlohmann::ordered_json outputs = nlohmann::ordered_json::array();
    for (std::size_t b = 0; b < prompts.size(); ++b) {
      nlohmann::ordered_json p = {{"prompt_ids", prompts[b]},
                                  {"ids", r.tokens[b]},
                                  {"stop_reason", stop_reason_name(r.stop_reasons[b])}};
      if (r.stopped_by[b] >= 0) p["stop_id"] = r.stopped_by[b];
      if (decodes) {
        p["prompt_text"] = text_of(*tokenizer, prompts[b]);
        p["text"] = text_of(*tokenizer, r.tokens[b]);
      }
      outputs.push_back(p);
    }
    nlohmann::ordered_json j = {{"model", config.name},
                                {"device", device.str()},
                                {"dtype", o.dtype},
                                {"tokenizer", decodes ? nlohmann::ordered_json(tokenizer->name())
                                                      : nlohmann::ordered_json(nullptr)},
                                {"sampling",
                                 {{"max_new", options.max_new},
                                  {"temperature", options.temperature},
                                  {"top_k", options.top_k},
                                  {"top_p", options.top_p},
                                  {"seed", options.seed},
                                  {"stop_ids", options.stop_ids},
                                  {"sampler", o.sampler},
                                  {"decode", o.decode}}},
                                {"outputs", outputs},
                                {"timings",
                                 {{"prefill_ms", r.prefill_ms},
                                  {"prefill_tokens", r.prefill_tokens},
                                  {"decode_ms", r.decode_ms},
                                  {"decode_steps", r.decode_steps},
                                  {"new_tokens", r.new_tokens},
                                  {"tokens_per_s", tokens_per_s},
                                  {"graph_kernels_per_step", r.graph_kernels},
                                  {"graph_nodes_per_step", r.graph_nodes}}},
                                {"kv_cache_bytes", kv_bytes},
                                {"arena_peak_bytes", s.peak}};
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  if (stream) {
    put("\n");
  } else {
    for (std::size_t b = 0; b < prompts.size(); ++b) {
      if (!text_out) {
        std::printf("%s\n", id_line(r.tokens[b]).c_str());
        continue;
      }
      if (b > 0) put("\n");  // a blank line between prompts
      put((o.no_echo ? "" : text_of(*tokenizer, prompts[b])) + text_of(*tokenizer, r.tokens[b]) +
          "\n");
    }
  }
  std::fflush(stdout);
  std::fprintf(stderr,
               "%s on %s (%s): prefill %lld tokens in %.2f ms; %lld decode steps in %.2f ms; "
               "%lld new tokens (%.1f tokens/s); KV cache %s; arena peak %s\n",
               config.name.c_str(), device.str().c_str(), o.dtype.c_str(),
               static_cast<long long>(r.prefill_tokens), r.prefill_ms,
               static_cast<long long>(r.decode_steps), r.decode_ms,
               static_cast<long long>(r.new_tokens), tokens_per_s, format_bytes(kv_bytes).c_str(),
               format_bytes(s.peak).c_str());
  return 0;
}

}  // namespace

void add_generate(CLI::App& app) {
  auto o = std::make_shared<GenerateCli>();
  auto* sub = app.add_subcommand(
      "generate",
      "Continue prompts (any lengths, one batch) with a KV cache.\n"
      "Output: with --text or --tokenizer, each prompt echoed and its continuation as text\n"
      "(one prompt: streamed token by token; several: each when done, a blank line between);\n"
      "with --tokens and no --tokenizer, or --ids, the new ids of each prompt on a line;\n"
      "--json: one object with prompt_ids, ids, text, stop_reason per prompt and the timings.\n"
      "A row stops at max-new tokens or at a stop id (--stop-id, and the tokenizer's\n"
      "<|endoftext|> unless --ignore-eos), which is not printed. Timings go to stderr.");
  sub->add_option("config", o->config, "Config path or bundled name (a GPT family)")->required();
  sub->add_option("--weights", o->weights, "safetensors checkpoint")->required();
  auto* tokens = sub->add_option("--tokens", o->tokens,
                                 "Prompt ids: \"1,2,3;4,5\" is two prompts (lengths may differ)");
  // Verbatim: no CLI11 list syntax, so "[citation needed]" and "[1,2,3]" are one prompt each.
  sub->add_option("--text", o->texts, "Prompt text, encoded by --tokenizer (repeat for more)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  auto* tokenizer =
      sub->add_option("--tokenizer", o->tokenizer,
                      "byte, a directory with GPT-2/RoBERTa vocab.json + merges.txt, or a "
                      "checkpoint carrying one (default: the one --weights records, else byte)")
          ->capture_default_str();
  sub->add_option("--max-new", o->options.max_new, "Most tokens to generate per prompt")
      ->check(opt::count(0, opt::kMaxTokens))
      ->capture_default_str();
  sub->add_option("--temperature", o->options.temperature, "0 = greedy")
      ->capture_default_str()
      ->check(opt::real(0, 1e6));
  sub->add_option("--top-k", o->options.top_k, "Sample among the k largest logits (0 = all)")
      ->capture_default_str()
      ->check(opt::count(0, opt::kMaxTokens));
  sub->add_option("--top-p", o->options.top_p,
                  "Sample among the fewest largest logits whose probability is >= p (1 = all)")
      ->capture_default_str()
      ->check(opt::real(1e-9, 1));
  sub->add_option("--seed", o->options.seed, "Sampling seed (row i draws from its own stream)")
      ->check(opt::seed())
      ->capture_default_str();
  sub->add_option("--stop-id", o->stop_ids, "Stop a prompt at this id (repeat, or \"1,2\")")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_flag("--ignore-eos", o->ignore_eos, "Do not stop at the tokenizer's <|endoftext|>");
  sub->add_flag("--ids", o->ids, "Print the new ids of each prompt, one line each");
  sub->add_flag("--json", o->json, "Print one JSON object: ids, text, stop reasons, timings");
  sub->add_flag("--no-echo", o->no_echo, "Text output without the prompt");
  sub->add_option("--device", o->device, "cpu or cuda[:N]")->capture_default_str();
  sub->add_option("--dtype", o->dtype, "Compute dtype")->capture_default_str();
  sub->add_option("--sampler", o->sampler,
                  "host (the logits come to the host) or device (the device's sampler picks the "
                  "ids; on the cpu its twin)")
      ->capture_default_str();
  sub->add_option("--decode", o->decode,
                  "Steps after the prompts: host (a forward per token, ids from the host), device "
                  "(ids and positions stay on the device), graph (that step captured once as a "
                  "CUDA graph; on the cpu as device) or fused (graph with the LayerNorms and "
                  "residual adds folded into the products, and a greedy pick into the LM head); "
                  "all but host need --sampler device")
      ->capture_default_str();
  on_run(sub, [o, tokens, tokenizer] {
    o->tokens_given = tokens->count() > 0;
    o->tokenizer_given = tokenizer->count() > 0;
    return run_generate(*o);
  });
}

}  // namespace cugpt::tools
