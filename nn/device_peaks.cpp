#include "nn/device_peaks.h"

#include <algorithm>
#include <vector>

#include "kernels/copy_rows.h"
#include "kernels/cpu/threads.h"
#include "nn/ops.h"

namespace cugpt {

std::optional<DevicePeaks> published_peaks(const std::string& device_name) {
  // Vendor datasheets: bandwidth in GB/s; FP32 and dense BF16/FP16 tensor TFLOP/s. The order
  // matters: the first entry whose key occurs in the name wins ("H100 PCIe" before "H100").
  struct Entry {
    const char* key;
    double gbs, f32, f16;
    const char* note;
  };
  static const std::vector<Entry> table = {
      {"RTX 2050", 112, 6.0, 10.0, "laptop GPU, 64-bit GDDR6; 2048 cores at ~1.48 GHz"},
      {"H200", 4800, 67, 989, "SXM, HBM3e"},
      {"H100 PCIe", 2000, 51, 756, "PCIe, HBM2e"},
      {"H100 NVL", 3900, 60, 835, "NVL, HBM3"},
      {"H100", 3350, 67, 989, "SXM, HBM3"},
  };
  for (const auto& e : table) {
    if (device_name.find(e.key) == std::string::npos) continue;
    return DevicePeaks{device_name, e.gbs, e.f32, e.f16,
                       std::string("published (") + e.key + ": " + e.note + ")"};
  }
  return std::nullopt;
}

DevicePeaks measure_peaks(const std::shared_ptr<Arena>& arena, DType dtype) {
  const Device device = arena->device();
  if (device.is_meta()) throw Error("the meta device has no speed to measure");
  if (device.is_cpu()) dtype = DType::f32;
  DevicePeaks p;
  p.name = device.str();
  // The cpu's figures are measured with the threads its kernels use (kernels/cpu/threads.h):
  // a single-threaded copy reaches a fraction of the memory system, and a ceiling below what
  // the kernels achieve is no ceiling. Every figure is the best of several runs: on a busy
  // machine the slow runs measure the neighbours, not the device.
  const int threads = device.is_cpu() ? kernels::cpu_threads() : 0;
  // Bandwidth: a copy reads and writes every byte. On cpu, 1 MiB rows split across the threads.
  {
    const std::int64_t n = (device.is_cuda() ? 512ll : 256ll) << 20;
    Tensor a = Tensor::zeros(arena, {n / 4}, DType::f32, Category::workspace);
    Tensor b = Tensor::zeros(arena, {n / 4}, DType::f32, Category::workspace);
    const std::size_t row = 1 << 20;
    const auto copy = [&] {
      if (device.is_cuda()) return b.copy_from(a);
      kernels::copy_rows_cpu(b.data(), row, a.data(), row, row, static_cast<std::size_t>(n) / row);
    };
    copy();  // first touch: the pages are committed here, not in the timed runs
    double best = 1e30;
    for (int i = 0; i < 10; ++i) best = std::min(best, time_ms(device, copy));
    p.bandwidth_gbs = 2.0 * static_cast<double>(n) / (best * 1e6);
  }
  // Throughput: an (n x n) by (n x n) product, through the same GEMM the layers use.
  {
    const std::int64_t n = device.is_cuda() ? 4096 : 1024;
    Tensor x = Tensor::zeros(arena, {n, n}, dtype, Category::workspace);
    Tensor w = Tensor::zeros(arena, {n, n}, dtype, Category::workspace);
    x.fill(0.01);
    w.fill(0.01);
    ops::linear(x, w, nullptr, false);  // warm up (cuBLASLt heuristics, caches)
    double best = 1e30;
    for (int i = 0; i < 5; ++i)
      best = std::min(best, time_ms(device, [&] { ops::linear(x, w, nullptr, false); }));
    const double flops = 2.0 * static_cast<double>(n) * n * n;
    (dtype == DType::f32 ? p.tflops_f32 : p.tflops_16) = flops / (best * 1e9);
  }
  p.source = "measured on the spot (copy bandwidth, " + std::string(dtype_name(dtype)) + " GEMM";
  if (threads > 0)
    p.source += ", " + std::to_string(threads) + (threads == 1 ? " thread" : " threads");
  p.source += ", best of 10 and 5 runs)";
  return p;
}

}  // namespace cugpt
