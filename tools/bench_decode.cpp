#include "tools/bench_decode.h"

#include <cstdio>
#include <sstream>

#include "models/cost.h"
#include "models/generate.h"
#include "tools/against.h"

namespace cugpt::tools {

std::vector<std::string> parse_decode_modes(const std::string& list) {
  std::vector<std::string> modes;
  std::stringstream in(list);
  for (std::string m; std::getline(in, m, ',');) {
    parse_decode(m);  // throws for a name that is not one
    modes.push_back(m);
  }
  if (modes.empty()) throw Error("--decode-modes: give one or more of host, device, graph, fused");
  return modes;
}

nlohmann::json bench_decode(const Gpt& gpt, const DevicePeaks& peaks, const DecodeBench& d,
                            std::vector<std::string>* lines) {
  const ModelConfig& c = gpt.config();
  Batch prompt;
  prompt.B = d.batch;
  prompt.T = d.prompt;
  for (std::int64_t i = 0; i < d.batch * d.prompt; ++i)  // any valid ids: speed does not care
    prompt.tokens.push_back(static_cast<std::int32_t>((i * 7919 + 3) % c.vocab_size));
  // Bytes a step must read: the weights once and each row's cache, at the middle of the run.
  const ForwardCost cost = decode_cost(gpt, d.batch, d.prompt + d.steps / 2);
  const double roofline_steps = peaks.bandwidth_gbs * 1e9 / cost.min_bytes;
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& name : d.modes) {
    GenerateOptions g;  // greedy
    g.max_new = d.steps;
    g.decode = parse_decode(name);
    g.device_sampler = g.decode != GenerateOptions::Decode::host;
    generate(gpt, prompt, g);  // untimed: cuBLAS's choices, the first capture
    const GenerateResult r = generate(gpt, prompt, g);
    const double step_ms = r.decode_ms / static_cast<double>(r.decode_steps);
    const double steps_s = 1e3 / step_ms;
    const Against roof{steps_s, roofline_steps};
    nlohmann::json m = {{"mode", name},
                        {"batch", d.batch},
                        {"steps", r.decode_steps},
                        {"us_per_step", 1e3 * step_ms},
                        {"tokens_per_s", steps_s * static_cast<double>(d.batch)},
                        {"roofline_tokens_per_s", roofline_steps * static_cast<double>(d.batch)},
                        {"fraction_of_roofline", roof.fraction()},
                        {"above_roofline", roof.above()},
                        {"kernels_per_step", r.graph_kernels >= 0 ? nlohmann::json(r.graph_kernels)
                                                                  : nlohmann::json(nullptr)},
                        {"nodes_per_step", r.graph_nodes >= 0 ? nlohmann::json(r.graph_nodes)
                                                              : nlohmann::json(nullptr)},
                        {"capture_ms", r.capture_ms}};
    out.push_back(m);
    if (!lines) continue;
    char frac[96] = "", buf[320];
    if (roof.above())
      std::snprintf(frac, sizeof frac, " (above the roofline: the ceiling is too low here)");
    else if (roof.known())
      std::snprintf(frac, sizeof frac, " = %.1f%% of the roofline", 100 * steps_s / roofline_steps);
    const std::string kernels = r.graph_kernels >= 0
                                    ? ", " + std::to_string(r.graph_kernels) + " kernels (" +
                                          std::to_string(r.graph_nodes) + " nodes) a step"
                                    : "";
    std::snprintf(buf, sizeof buf, "%-6s batch %lld, %lld steps: %.1f us a step, %.1f tokens/s%s%s",
                  name.c_str(), static_cast<long long>(d.batch),
                  static_cast<long long>(r.decode_steps), 1e3 * step_ms,
                  steps_s * static_cast<double>(d.batch), frac, kernels.c_str());
    lines->push_back(buf);
  }
  return out;
}

}  // namespace cugpt::tools
