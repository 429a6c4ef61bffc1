// Number formatting for the command line's tables.
#pragma once

#include <cstdint>
#include <string>

namespace cugpt::tools {

// 134408960 -> "134,408,960"
std::string with_commas(std::int64_t n);

}  // namespace cugpt::tools
