// Where a tensor lives: a CUDA GPU, host memory, or nowhere at all (meta: shapes and byte
// accounting without storage, which is how memory budgets are answered without a GPU).
#pragma once

#include <string>

namespace cugpt {

enum class DeviceType { cpu, cuda, meta };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;  // CUDA ordinal; 0 for cpu and meta

  static Device cpu() { return {DeviceType::cpu, 0}; }
  static Device meta() { return {DeviceType::meta, 0}; }
  static Device cuda(int index = 0) { return {DeviceType::cuda, index}; }

  bool is_cpu() const { return type == DeviceType::cpu; }
  bool is_cuda() const { return type == DeviceType::cuda; }
  bool is_meta() const { return type == DeviceType::meta; }
  // "cpu", "meta", "cuda:0"
  std::string str() const;
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

// Parses "cpu", "meta", "cuda", "cuda:N"; throws cugpt::Error otherwise.
Device parse_device(const std::string& text);

}  // namespace cugpt
