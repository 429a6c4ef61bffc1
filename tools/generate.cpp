// `cugpt generate <config> --weights FILE --tokens "..." --max-new N [--temperature T]
// [--top-k K] [--seed S] [--device]`: continues each sequence with a KV cache.
#include <cstdio>
#include <memory>
#include <string>

#include "models/batch.h"
#include "models/generate.h"
#include "models/weights.h"
#include "nn/bytes.h"
#include "tools/commands.h"

namespace cugpt::tools {

namespace {

struct GenerateCli {
  std::string config, weights, tokens, device = "cpu", dtype = "f32";
  GenerateOptions options;
};

int run_generate(const GenerateCli& o) {
  const ModelConfig config = load_config(o.config);
  if (config.family == ModelFamily::roberta)
    throw Error(config.name + " is an encoder (roberta): it does not generate text");
  const Device device = parse_device(o.device);
  if (device.is_meta()) throw Error("generate needs a device with memory: cpu or cuda");
  const Batch prompt = make_batch(config, parse_token_rows(o.tokens));
  auto arena = Arena::create(device, default_budget(device));
  auto model = build_model(config, arena, parse_dtype(o.dtype));
  load_weights(*model, o.weights);
  const auto& gpt = static_cast<const Gpt&>(*model);
  const GenerateResult r = generate(gpt, prompt, o.options);
  for (const auto& seq : r.tokens) {
    std::string line;
    for (std::int32_t t : seq) line += (line.empty() ? "" : ",") + std::to_string(t);
    std::printf("%s\n", line.c_str());
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
  sub->add_option("--tokens", o->tokens, "Prompt ids: \"1,2,3;4,5,6\" is two prompts")->required();
  sub->add_option("--max-new", o->options.max_new, "Tokens to generate")->capture_default_str();
  sub->add_option("--temperature", o->options.temperature, "0 = greedy")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--top-k", o->options.top_k, "Sample among the k largest logits (0 = all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--seed", o->options.seed, "Sampling seed")->capture_default_str();
  sub->add_option("--device", o->device, "cpu or cuda[:N]")->capture_default_str();
  sub->add_option("--dtype", o->dtype, "Compute dtype")->capture_default_str();
  on_run(sub, [o] { return run_generate(*o); });
}

}  // namespace cugpt::tools
