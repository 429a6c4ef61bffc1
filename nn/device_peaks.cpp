#include "nn/device_peaks.h"

#include <algorithm>
#include <vector>

#include "kernels/copy_rows.h"
#include "kernels/cpu/threads.h"
#include "nn/ops.h"

namespace cugpt {

namespace {
// The RTX 2050 (GA107, sm_86) has no published tensor figure; it is derived from the unit
// counts of NVIDIA's Ampere GA102 whitepaper, which hold for every consumer GA10x SM:
//  - FP32: 128 FP32 lanes per SM, one FMA (2 FLOP) each per clock: 16 SMs x 256 FLOP x
//    1.48 GHz = 6.06 TFLOP/s, the datasheet's 6.0 at the boost clock it assumes.
//  - Tensor: 4 tensor cores per SM, each 128 dense FP16 FMA per clock with FP16 accumulation
//    (1024 FLOP/clk/SM); GeForce parts run FP16/BF16 with FP32 accumulation, the kind cugpt's
//    GEMMs use (CUBLAS_COMPUTE_32F), at half that rate: 512 FLOP/clk/SM. The whitepaper's RTX
//    3090 check: 82 SMs x 512 x 1.695 GHz = 71 TFLOP/s, its "FP16 Tensor with FP32 accumulate".
//    So 16 x 512 x 1.48 GHz = 12.1 TFLOP/s (the 10 once quoted here was an estimate).
constexpr double kRtx2050Sms = 16, kRtx2050Ghz = 1.48;
constexpr double kGa10xF32FlopPerClkSm = 2 * 128;
constexpr double kGa10xTensorF32AccFlopPerClkSm = 4 * 128 * 2 / 2;

constexpr double tflops(double sms, double flop_per_clk_sm, double ghz) {
  return sms * flop_per_clk_sm * ghz * 1e9 / 1e12;
}
}  // namespace

std::optional<DevicePeaks> published_peaks(const std::string& device_name) {
  // Vendor datasheets: bandwidth in GB/s; FP32 and dense BF16/FP16 tensor TFLOP/s (with f32
  // accumulation). The order matters: the first entry whose key occurs in the name wins
  // ("H100 PCIe" before "H100").
  struct Entry {
    const char* key;
    double gbs, f32, f16;
    const char* note;
  };
  static const std::vector<Entry> table = {
      {"RTX 2050", 112, tflops(kRtx2050Sms, kGa10xF32FlopPerClkSm, kRtx2050Ghz),
       tflops(kRtx2050Sms, kGa10xTensorF32AccFlopPerClkSm, kRtx2050Ghz),
       "laptop GPU, 64-bit GDDR6; 16 SMs at ~1.48 GHz: 256 FP32 and 512 tensor FLOP/clk/SM "
       "(FP16/BF16 with FP32 accumulation, half rate on GeForce Ampere), from the GA102 "
       "whitepaper's per-SM figures"},
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
