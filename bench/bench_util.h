// What the benchmark files share: one arena per device, the cached model of the forward
// cases, the device's ceilings (published figures for known GPUs, or measured on the spot when
// CUGPT_PEAKS=measured or the GPU is not in the table), and the skip for CUDA cases on a
// machine without a GPU.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "kernels/runtime.h"
#include "models/factory.h"
#include "models/init.h"
#include "nn/device_peaks.h"

namespace cugpt::bench {

inline const DevicePeaks& peaks_for(const std::shared_ptr<Arena>& arena, DType dtype) {
  static std::map<std::string, DevicePeaks> cache;
  const Device d = arena->device();
  const std::string key = d.str() + dtype_name(dtype);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  const char* env = std::getenv("CUGPT_PEAKS");
  const bool measured = env != nullptr && std::string(env) == "measured";
  std::optional<DevicePeaks> p;
  if (d.is_cuda() && !measured) p = published_peaks(cuda_probe(d.index).name);
  if (!p) p = measure_peaks(arena, dtype);
  return cache.emplace(key, *p).first->second;
}

// One arena per device for every benchmark of the run: a cuda arena reserves its budget up front
// (most of the card), so a second one would not fit beside it.
inline std::shared_ptr<Arena> shared_arena(Device device) {
  static std::map<std::string, std::shared_ptr<Arena>> arenas;
  std::shared_ptr<Arena>& a = arenas[device.str()];
  if (!a) a = Arena::create(device, default_budget(device));
  return a;
}

struct Loaded {
  std::shared_ptr<Arena> arena;
  std::unique_ptr<Model> model;
  const Gpt* gpt = nullptr;  // the same model, when it is a causal LM (the decode cases)
};

inline std::map<std::string, Loaded>& model_cache() {
  static std::map<std::string, Loaded> cache;
  return cache;
}

// One model per (config, device, dtype) with random weights, built once and reused across
// cases; one at a time, since a 4 GB card holds one gpt2-124m with room to run.
inline Loaded& model_for(const std::string& config, Device device, DType dtype) {
  auto& cache = model_cache();
  const std::string key = config + "/" + device.str() + "/" + dtype_name(dtype);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  cache.clear();
  Loaded l;
  l.arena = shared_arena(device);
  const ModelConfig c = load_config(config);
  if (is_causal_lm(c)) {
    auto gpt = build_gpt(c, l.arena, dtype, "decode");
    l.gpt = gpt.get();
    l.model = std::move(gpt);
  } else {
    l.model = build_model(c, l.arena, dtype);
  }
  init_parameters(*l.model, 0);
  return cache.emplace(key, std::move(l)).first->second;
}

// Frees the cached model: a benchmark that builds its own needs the memory.
inline void release_models() {
  model_cache().clear();
}

inline bool skip_without_gpu(benchmark::State& state, Device device) {
  std::string reason;
  if (device.is_cuda() && cuda_device_count(&reason) == 0) {
    state.SkipWithError(reason.c_str());
    return true;
  }
  return false;
}

}  // namespace cugpt::bench
