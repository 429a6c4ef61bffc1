// What a device can do at most: memory bandwidth and matrix throughput, either from the
// vendors' published figures (by CUDA device name) or measured on the spot. Benchmarks report
// their results as fractions of these.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "kernels/dtype.h"
#include "nn/arena.h"
#include "nn/timing.h"

namespace cugpt {

struct DevicePeaks {
  std::string name;
  double bandwidth_gbs = 0;  // DRAM, GB/s (1e9 bytes)
  double tflops_f32 = 0;     // FP32 FMA, non-tensor
  double tflops_16 = 0;      // dense bf16/f16 tensor cores with f32 accumulation
  std::string source;        // where the figures come from ("published: ..." or "measured ...")

  double tflops(DType t) const { return t == DType::f32 ? tflops_f32 : tflops_16; }
};

// The published figures of the GPUs cugpt targets, matched by the CUDA device name (RTX 2050,
// H100 SXM/PCIe/NVL, H200); nullopt for anything else.
std::optional<DevicePeaks> published_peaks(const std::string& device_name);

// Measures the arena's device: a large device-to-device copy for bandwidth and a square GEMM
// in `dtype` for throughput (f32 on cpu), each the best of several runs; on cpu with the
// kernels' thread count (kernels/cpu/threads.h). Takes about a second.
DevicePeaks measure_peaks(const std::shared_ptr<Arena>& arena, DType dtype);

}  // namespace cugpt
