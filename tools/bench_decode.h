// bench's decode part: each way of running the decode steps (models/generate.h's Decode: host,
// device, graph) timed in the same process, every one after an untimed run of its own, against
// the roofline of reading the weights and the KV cache once per step (models/cost.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/gpt.h"
#include "nn/device_peaks.h"

namespace cugpt::tools {

struct DecodeBench {
  std::int64_t prompt = 64;  // tokens of each row's prompt
  std::int64_t steps = 32;   // new tokens per row (the first comes from the prefill)
  std::int64_t batch = 1;    // rows decoded together
  std::vector<std::string> modes = {"host"};
};

// modes parsed from "host,device,graph" (an Error for an unknown one or none).
std::vector<std::string> parse_decode_modes(const std::string& list);

// One JSON object per mode: steps, tokens/s (all rows), µs per step, the roofline and its
// fraction (null above it, with above_roofline), kernels and nodes per step (captured graphs
// only, else null), capture ms.
// lines gets one text line per mode.
nlohmann::json bench_decode(const Gpt& gpt, const DevicePeaks& peaks, const DecodeBench& d,
                            std::vector<std::string>* lines);

}  // namespace cugpt::tools
