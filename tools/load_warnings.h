// The warnings a loaded checkpoint deserves, printed the same way by every command that loads
// one: tensors missing from the file (left at zero), tensors holding NaN or Inf, and a note per
// dtype conversion (a bf16 file in an f32 model), one line each.
#pragma once

#include <string>

#include "io/checkpoint.h"

namespace cugpt::tools {

void print_load_warnings(const LoadReport& report, const std::string& path);

}  // namespace cugpt::tools
