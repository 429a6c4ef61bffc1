// `cugpt report <config> [--json]`: what this build and this machine can do, the model's
// parameter summary, its 4 GiB memory verdicts (train, forward, generate) and a short benchmark.
// The verdicts and the benchmark take seconds; each slow part says on stderr that it started.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "kernels/runtime.h"
#include "models/factory.h"
#include "nn/arena.h"
#include "nn/bytes.h"
#include "tools/commands.h"
#include "tools/memory_offload.h"

namespace cugpt::tools {

namespace {

// The devices present, as text on stdout or into *json.
void probe_devices(nlohmann::json* json) {
  nlohmann::json out = {{"cuda_compiled", cuda_compiled()}, {"cuda", nlohmann::json::array()}};
  if (!json) {
    std::printf("== devices\n");
    std::printf("build: CUDA %s\n", cuda_compiled() ? "compiled in" : "not compiled in");
  }
  std::string reason;
  const int n = cuda_device_count(&reason);
  if (n == 0) {
    out["cuda_reason"] = reason;
    if (!json) std::printf("cuda: %s\n", reason.c_str());
  }
  for (int i = 0; i < n; ++i) {
    const CudaDeviceInfo d = cuda_probe(i);
    if (!d.available) {
      out["cuda"].push_back({{"index", i}, {"available", false}, {"reason", d.reason}});
      if (!json) std::printf("cuda:%d: %s\n", i, d.reason.c_str());
      continue;
    }
    out["cuda"].push_back({{"index", i},
                           {"available", true},
                           {"name", d.name},
                           {"sm", d.cc_major * 10 + d.cc_minor},
                           {"sm_count", d.sm_count},
                           {"total_bytes", d.total_bytes},
                           {"free_bytes", d.free_bytes},
                           {"l2_bytes", d.l2_bytes},
                           {"driver", d.driver_version},
                           {"runtime", d.runtime_version}});
    if (!json)
      std::printf("cuda:%d: %s, sm_%d%d, %d SMs, %s total, %s free, L2 %s, driver %d, runtime %d\n",
                  i, d.name.c_str(), d.cc_major, d.cc_minor, d.sm_count,
                  format_bytes(d.total_bytes).c_str(), format_bytes(d.free_bytes).c_str(),
                  format_bytes(d.l2_bytes).c_str(), d.driver_version, d.runtime_version);
  }
  out["cpu_budget_bytes"] = default_budget(Device::cpu());
  out["meta_budget_bytes"] = default_budget(Device::meta());
  if (json) {
    *json = out;
    return;
  }
  std::printf("cpu: available (Eigen reference kernels), default arena budget %s\n",
              format_bytes(default_budget(Device::cpu())).c_str());
  std::printf("meta: available (exact allocation accounting, no memory), default budget %s\n",
              format_bytes(default_budget(Device::meta())).c_str());
}

int run_report(const std::string& name, bool json) {
  if (!json) {
    std::printf("cugpt report: %s\n\n", name.c_str());
    probe_devices(nullptr);
    std::printf("\n== parameters\n");
    print_param_summary(name);
    std::printf("\n== 4 GiB verdicts\n");
    print_memory_verdicts(name);
    std::printf("\n== training beyond the card (optimizer offload)\n");
    print_offload_verdicts();
    std::printf("\n== forward benchmark\n");
    print_short_bench(name);
    return 0;
  }
  const ModelConfig config = load_config(name);
  auto arena = Arena::create(Device::meta(), 1ull << 50);
  const auto model = build_model(config, arena, DType::f32);
  nlohmann::json out = {{"config", config.name},
                        {"parameters",
                         {{"total", model->parameter_count()},
                          {"trainable", model->trainable_count()},
                          {"tensors", model->named_parameters().size()}}}};
  probe_devices(&out["devices"]);
  print_memory_verdicts(name, &out["memory"]);
  print_offload_verdicts(&out["offload"]);
  print_short_bench(name, &out["bench"]);
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

}  // namespace

void add_report(CLI::App& app) {
  auto* sub = app.add_subcommand("report", "Device probe and a summary of a model");
  auto config = std::make_shared<std::string>("gpt-day18");
  auto json = std::make_shared<bool>(false);
  sub->add_option("config", *config, "Config path or bundled name")->capture_default_str();
  sub->add_flag("--json", *json, "Machine-readable output (progress stays on stderr)");
  on_run(sub, [config, json] { return run_report(*config, *json); });
}

}  // namespace cugpt::tools
