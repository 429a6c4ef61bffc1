// `cugpt generate <config> --weights FILE (--tokens "..." | --text "..." [--text ...])
// [--tokenizer SPEC] --max-new N [--temperature T] [--top-k K] [--seed S] [--device]`: continues
// each sequence with a KV cache. Prints the new ids of each sequence on a line; with --text or
// --tokenizer also their decoded text on the next line, as a JSON string.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/factory.h"
#include "models/generate.h"
#include "models/weights.h"
#include "nn/bytes.h"
#include "text/tokenizer.h"
#include "tools/batch.h"
#include "tools/commands.h"
#include "tools/load_warnings.h"
#include "tools/options.h"

namespace cugpt::tools {

namespace {

struct GenerateCli {
  std::string config, weights, tokens, tokenizer = "byte", device = "cpu", dtype = "f32";
  std::vector<std::string> texts;
  bool tokens_given = false, tokenizer_given = false;
  GenerateOptions options;
};

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
      throw Error(
          "generate: --text " +
          nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
          " encodes to no tokens");
  }
  return rows;
}

int run_generate(const GenerateCli& o) {
  const ModelConfig config = load_config(o.config);
  if (!is_causal_lm(config))
    throw Error(config.name + " is an encoder (roberta): it does not generate text");
  const Device device = parse_device(o.device);
  if (device.is_meta()) throw Error("generate needs a device with memory: cpu or cuda");
  const auto tokenizer = load_tokenizer(o.tokenizer);
  const Batch prompt = make_batch(config, prompt_rows(o, *tokenizer));
  const bool show_text = !o.texts.empty() || o.tokenizer_given;
  auto arena = Arena::create(device, default_budget(device));
  auto gpt = build_gpt(config, arena, parse_dtype(o.dtype), "generation");
  print_load_warnings(load_weights(*gpt, o.weights), o.weights);
  const GenerateResult r = generate(*gpt, prompt, o.options);
  for (const auto& seq : r.tokens) {
    std::string line;
    for (std::int32_t t : seq) line += (line.empty() ? "" : ",") + std::to_string(t);
    std::printf("%s\n", line.c_str());
    if (show_text) {
      // One line whatever was generated: escapes, and U+FFFD for bytes that are not UTF-8.
      const std::string text = nlohmann::json(tokenizer->decode(seq))
                                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      std::printf("text: %s\n", text.c_str());
    }
  }
  const ArenaStats s = arena->stats();
  std::fprintf(stderr,
               "%s on %s (%s): prefill %lld tokens in %.2f ms; %lld decode steps in %.2f ms "
               "(%.1f tokens/s per sequence); KV cache %s; arena peak %s\n",
               config.name.c_str(), device.str().c_str(), o.dtype.c_str(),
               static_cast<long long>(prompt.T), r.prefill_ms,
               static_cast<long long>(r.decode_steps), r.decode_ms,
               r.decode_steps ? 1000.0 * r.decode_steps / r.decode_ms : 0.0,
               format_bytes(s.peak_by_category[static_cast<int>(Category::kv_cache)]).c_str(),
               format_bytes(s.peak).c_str());
  return 0;
}

}  // namespace

void add_generate(CLI::App& app) {
  auto o = std::make_shared<GenerateCli>();
  auto* sub = app.add_subcommand("generate", "Continue token sequences with a KV cache");
  sub->add_option("config", o->config, "Config path or bundled name (a GPT family)")->required();
  sub->add_option("--weights", o->weights, "safetensors checkpoint")->required();
  auto* tokens =
      sub->add_option("--tokens", o->tokens, "Prompt ids: \"1,2,3;4,5,6\" is two prompts");
  sub->add_option("--text", o->texts, "Prompt text, encoded by --tokenizer (repeat for more)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  auto* tokenizer =
      sub->add_option("--tokenizer", o->tokenizer,
                      "byte, or a directory with GPT-2/RoBERTa vocab.json + merges.txt")
          ->capture_default_str();
  sub->add_option("--max-new", o->options.max_new, "Tokens to generate")
      ->check(opt::count(0, opt::kMaxTokens))
      ->capture_default_str();
  sub->add_option("--temperature", o->options.temperature, "0 = greedy")
      ->capture_default_str()
      ->check(opt::real(0, 1e6));
  sub->add_option("--top-k", o->options.top_k, "Sample among the k largest logits (0 = all)")
      ->capture_default_str()
      ->check(opt::count(0, opt::kMaxTokens));
  sub->add_option("--seed", o->options.seed, "Sampling seed")
      ->check(opt::seed())
      ->capture_default_str();
  sub->add_option("--device", o->device, "cpu or cuda[:N]")->capture_default_str();
  sub->add_option("--dtype", o->dtype, "Compute dtype")->capture_default_str();
  on_run(sub, [o, tokens, tokenizer] {
    o->tokens_given = tokens->count() > 0;
    o->tokenizer_given = tokenizer->count() > 0;
    return run_generate(*o);
  });
}

}  // namespace cugpt::tools
