// libFuzzer target: JSON text -> ModelConfig. The last byte of the input chooses the path: odd
// goes through a file (load_config), even through the string (parse_config).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/checks.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const bool via_file = size > 0 && (data[size - 1] & 1);
  cugpt::fuzz::check_config(std::string_view(reinterpret_cast<const char*>(data), size), via_file);
  return 0;
}
