// The CUDA probe's reason without a device (kernels/runtime_message.h): on a machine with no
// NVIDIA driver at all the runtime reports cudaErrorInsufficientDriver, whose own text suggests
// an upgrade; the reason says instead that no driver was found, and keeps the upgrade advice for
// a driver that is there and too old.
#include <gtest/gtest.h>

#include <string>

#include "kernels/runtime_message.h"

namespace cugpt {
namespace {

const std::string kInsufficient = "CUDA driver version is insufficient for CUDA runtime version";

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(RuntimeMessage, NoDriverIsNotAnUpgrade) {
  const std::string r =
      cuda_unavailable_reason(CudaProbeFailure::insufficient_driver, false, kInsufficient);
  EXPECT_EQ(r.rfind("no CUDA device: ", 0), 0u) << r;
  EXPECT_TRUE(has(r, "no NVIDIA driver was found")) << r;
  EXPECT_FALSE(has(r, "insufficient")) << r;
  EXPECT_FALSE(has(r, "upgrade")) << r;
}

TEST(RuntimeMessage, AnOldDriverIsAnUpgrade) {
  const std::string r =
      cuda_unavailable_reason(CudaProbeFailure::insufficient_driver, true, kInsufficient);
  EXPECT_TRUE(has(r, "older than")) << r;
  EXPECT_TRUE(has(r, "upgrade the driver")) << r;
  EXPECT_TRUE(has(r, kInsufficient)) << r;
}

TEST(RuntimeMessage, NoDeviceSaysWhatIsMissing) {
  const std::string text = "no CUDA-capable device is detected";
  const std::string none = cuda_unavailable_reason(CudaProbeFailure::no_device, false, text);
  EXPECT_TRUE(has(none, "no NVIDIA driver or GPU was found")) << none;
  const std::string gpu = cuda_unavailable_reason(CudaProbeFailure::no_device, true, text);
  EXPECT_TRUE(has(gpu, "found no GPU")) << gpu;
  EXPECT_FALSE(has(gpu, "driver or GPU")) << gpu;
  // Any other failure keeps the runtime's words.
  EXPECT_EQ(cuda_unavailable_reason(CudaProbeFailure::other, true, "out of memory"),
            "no CUDA device: out of memory");
}

TEST(RuntimeMessage, TheDriverNeedsItsDirectoryAndItsLibrary) {
  // A directory that exists and a library that loads stand in for the driver's.
  EXPECT_TRUE(nvidia_driver_present("/", "libc.so.6"));
  EXPECT_FALSE(nvidia_driver_present("/nonexistent/driver/nvidia", "libc.so.6"));
  EXPECT_FALSE(nvidia_driver_present("/", "libcugpt-no-such-library.so.1"));
}

}  // namespace
}  // namespace cugpt
