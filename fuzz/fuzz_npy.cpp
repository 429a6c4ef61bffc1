// libFuzzer target: bytes -> the .npy reader (header dict, dtype, shape, data size).
#include <cstddef>
#include <cstdint>

#include "fuzz/checks.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cugpt::fuzz::check_npy_file(cugpt::fuzz::write_temp(data, size, ".npy"));
  return 0;
}
