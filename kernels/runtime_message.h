// Why the CUDA runtime found no device, in words that point at the fix. The runtime's own text
// for cudaErrorInsufficientDriver ("CUDA driver version is insufficient for CUDA runtime
// version") suggests a driver upgrade even on a machine with no NVIDIA driver at all, which is
// the common case on a laptop without a GPU or in a container started without one. A host file,
// compiled in every configuration, so the cpu build tests the decision that kernels/cuda/
// runtime.cu's probe makes.
#pragma once

#include <string>

namespace cugpt {

// The failures of cudaGetDeviceCount that need words of their own.
enum class CudaProbeFailure { insufficient_driver, no_device, other };

// Whether an NVIDIA kernel driver is installed and usable: `proc_path` exists (the kernel
// module's directory) and `library` (the driver's user-space half) loads. Tests pass others.
bool nvidia_driver_present(const char* proc_path = "/proc/driver/nvidia",
                           const char* library = "libcuda.so.1");

// cuda_device_count's reason, "no CUDA device: ...": no driver, no device, a driver older than
// the runtime, or else the runtime's text (`runtime_text`, cudaGetErrorString's).
std::string cuda_unavailable_reason(CudaProbeFailure failure, bool driver_present,
                                    const std::string& runtime_text);

}  // namespace cugpt
