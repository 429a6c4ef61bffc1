// time_ms: wall-clock timing that waits for the GPU, so asynchronous kernel launches are
// counted until they finish.
#pragma once

#include <chrono>

#include "kernels/runtime.h"
#include "nn/device.h"

namespace cugpt {

template <typename F>
double time_ms(Device device, F&& fn) {
  if (device.is_cuda()) cuda_synchronize();
  const auto start = std::chrono::steady_clock::now();
  fn();
  if (device.is_cuda()) cuda_synchronize();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace cugpt
