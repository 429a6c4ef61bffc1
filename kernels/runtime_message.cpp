#include "kernels/runtime_message.h"

#include <dlfcn.h>
#include <sys/stat.h>

namespace cugpt {

bool nvidia_driver_present(const char* proc_path, const char* library) {
  struct stat st {};
  if (::stat(proc_path, &st) != 0) return false;
  void* handle = ::dlopen(library, RTLD_LAZY | RTLD_LOCAL);
  if (!handle) return false;
  ::dlclose(handle);
  return true;
}

std::string cuda_unavailable_reason(CudaProbeFailure failure, bool driver_present,
                                    const std::string& runtime_text) {
  const std::string head = "no CUDA device: ";
  switch (failure) {
    case CudaProbeFailure::insufficient_driver:
      // Without a driver the runtime reports this same error: only a present one is too old.
      if (!driver_present)
        return head +
               "no NVIDIA driver was found (no /proc/driver/nvidia or no loadable libcuda.so.1)";
      return head + "the NVIDIA driver is older than this cugpt's CUDA runtime (" + runtime_text +
             "): upgrade the driver";
    case CudaProbeFailure::no_device:
      if (!driver_present) return head + "no NVIDIA driver or GPU was found";
      return head + "the NVIDIA driver found no GPU (" + runtime_text + ")";
    case CudaProbeFailure::other:
      break;
  }
  return head + runtime_text;
}

}  // namespace cugpt
