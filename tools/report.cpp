// `cugpt report <config>`: what this build and this machine can do, and (as later parts land)
// the model's parameter summary, memory verdicts and a short benchmark.
#include <cstdio>
#include <string>

#include "kernels/runtime.h"
#include "nn/arena.h"
#include "nn/bytes.h"
#include "tools/commands.h"

namespace cugpt::tools {

namespace {

void print_device_probe() {
  std::printf("== devices\n");
  std::printf("build: CUDA %s\n", cuda_compiled() ? "compiled in" : "not compiled in");
  std::string reason;
  const int n = cuda_device_count(&reason);
  if (n == 0) {
    std::printf("cuda: %s\n", reason.c_str());
  }
  for (int i = 0; i < n; ++i) {
    const CudaDeviceInfo d = cuda_probe(i);
    if (!d.available) {
      std::printf("cuda:%d: %s\n", i, d.reason.c_str());
      continue;
    }
    std::printf("cuda:%d: %s, sm_%d%d, %d SMs, %s total, %s free, L2 %s, driver %d, runtime %d\n",
                i, d.name.c_str(), d.cc_major, d.cc_minor, d.sm_count,
                format_bytes(d.total_bytes).c_str(), format_bytes(d.free_bytes).c_str(),
                format_bytes(d.l2_bytes).c_str(), d.driver_version, d.runtime_version);
  }
  std::printf("cpu: available (Eigen reference kernels), default arena budget %s\n",
              format_bytes(default_budget(Device::cpu())).c_str());
  std::printf("meta: available (exact allocation accounting, no memory), default budget %s\n",
              format_bytes(default_budget(Device::meta())).c_str());
}

int run_report(const std::string& config) {
  std::printf("cugpt report: %s\n\n", config.c_str());
  print_device_probe();
  std::printf("\n== parameters\n");
  print_param_summary(config);
  std::printf("\n== 4 GiB verdicts\n");
  print_memory_verdicts(config);
  std::printf("\n== forward benchmark\n");
  print_short_bench(config);
  return 0;
}

}  // namespace

void add_report(CLI::App& app) {
  auto* sub = app.add_subcommand("report", "Device probe and a summary of a model");
  auto config = std::make_shared<std::string>("gpt-day18");
  sub->add_option("config", *config, "Config path or bundled name")->capture_default_str();
  on_run(sub, [config] { return run_report(*config); });
}

}  // namespace cugpt::tools
