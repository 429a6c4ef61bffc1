// libFuzzer target: bytes -> the dataset reader (uint16 .bin, uint32 .bin, byte text).
#include <cstddef>
#include <cstdint>

#include "fuzz/checks_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cugpt::fuzz::check_dataset_bytes(data, size);
  return 0;
}
