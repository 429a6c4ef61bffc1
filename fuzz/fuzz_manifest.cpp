// libFuzzer target: text -> a checkpoint manifest (train --resume's first read).
#include <cstddef>
#include <cstdint>

#include "fuzz/checks_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cugpt::fuzz::check_manifest(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
