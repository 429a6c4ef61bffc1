// libFuzzer target: text -> the numeric option parsers and the token-list parser.
#include <cstddef>
#include <cstdint>

#include "fuzz/checks_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cugpt::fuzz::check_option_text(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
