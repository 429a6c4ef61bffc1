// `cugpt init <config> --out FILE [--seed N] [--dtype]`: a freshly initialised model as a
// safetensors checkpoint, written atomically.
#include <cstdio>
#include <memory>
#include <string>

#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "models/factory.h"
#include "models/init.h"
#include "nn/bytes.h"
#include "tools/commands.h"
#include "tools/format.h"
#include "tools/options.h"
#include "train/memory_plan.h"

namespace cugpt::tools {

namespace {

struct InitOptions {
  std::string config;
  std::string out;
  std::uint64_t seed = 0;
  std::string dtype = "f32";
};

int run_init(const InitOptions& o) {
  const ModelConfig config = load_config(o.config);
  const DType dtype = parse_dtype(o.dtype);
  if (dtype == DType::i32) throw Error("--dtype i32: token ids are no weight dtype");
  { AtomicFile probe(o.out); }  // an unwritable --out fails now, not after the initialisation
  // The parameters' bytes, counted on meta, against the arena and the machine before a byte is
  // touched: a huge but valid config used to fill most of the memory before failing.
  const std::uint64_t budget = default_budget(Device::cpu()), physical = opt::physical_memory();
  const std::uint64_t bytes = parameter_bytes(config, dtype);
  if (bytes > budget || (physical > 0 && bytes > physical))
    throw Error(std::string("init: the ") + dtype_name(dtype) + " parameters of " + config.name +
                " take " + format_bytes(bytes) + ", more than the " + format_bytes(budget) +
                " arena of this machine (" + format_bytes(physical) + " of memory)");
  auto arena = Arena::create(Device::cpu(), budget);
  auto model = build_model(config, arena, dtype);
  init_parameters(*model, o.seed);
  save_checkpoint(*model, o.out,
                  {{"format", "pt"},
                   {"generator", "cugpt init"},
                   {"config", config.name},
                   {"seed", std::to_string(o.seed)}});
  std::printf("wrote %s: %s, %s parameters in %zu tensors, %s, seed %llu\n", o.out.c_str(),
              config.name.c_str(), with_commas(model->parameter_count()).c_str(),
              model->named_parameters().size(), dtype_name(dtype),
              static_cast<unsigned long long>(o.seed));
  return 0;
}

}  // namespace

void add_init(CLI::App& app) {
  auto o = std::make_shared<InitOptions>();
  auto* sub = app.add_subcommand("init", "Write a freshly initialised model (safetensors)");
  sub->add_option("config", o->config, "Config path or bundled name")->required();
  sub->add_option("--out", o->out, "Output .safetensors file")->required();
  sub->add_option("--seed", o->seed, "Random seed")->check(opt::seed())->capture_default_str();
  sub->add_option("--dtype", o->dtype,
                  "Stored dtype: f32, bf16, f16 or f64 (any loads anywhere, converted)")
      ->capture_default_str();
  on_run(sub, [o] { return run_init(*o); });
}

}  // namespace cugpt::tools
