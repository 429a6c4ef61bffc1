// libFuzzer target: bytes -> safetensors header parse, tensor table validation, tensor reads,
// and a checkpoint load into a micro GPT-2 (on cpu and on meta).
#include <cstddef>
#include <cstdint>

#include "fuzz/checks.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cugpt::fuzz::check_safetensors_file(cugpt::fuzz::write_temp(data, size, ".safetensors"));
  return 0;
}
