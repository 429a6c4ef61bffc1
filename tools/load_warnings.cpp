#include "tools/load_warnings.h"

#include <cstdio>

#include "io/printable.h"

namespace cugpt::tools {

void print_load_warnings(const LoadReport& report, const std::string& path) {
  for (const auto& name : report.missing)
    std::fprintf(stderr, "cugpt: warning: '%s' is not in %s; left at zero\n",
                 printable(name).c_str(), path.c_str());
  for (const auto& [name, count] : report.nonfinite)
    std::fprintf(stderr, "cugpt: warning: tensor '%s' in %s has %lld NaN or Inf values\n",
                 printable(name).c_str(), path.c_str(), static_cast<long long>(count));
  for (const auto& [what, count] : report.converted)
    std::fprintf(stderr, "cugpt: note: %s: converted %d tensor(s) from %s on load\n", path.c_str(),
                 count, what.c_str());
}

}  // namespace cugpt::tools
