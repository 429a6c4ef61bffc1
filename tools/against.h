// The rule bench's figures are reported by (tools/bench.cpp, tools/bench_decode.cpp).
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

namespace cugpt::tools {

// A figure against its ceiling. Over 100% the ceiling is wrong (a cpu's measured bandwidth is one
// copy loop's, a card's published figure may be a different clock), so it is never printed as
// a fraction: the figure is marked as above the ceiling, and the JSON fraction is null.
struct Against {
  double value = 0, ceiling = 0;
  bool known() const { return ceiling > 0; }
  bool above() const { return known() && value > ceiling; }
  nlohmann::json fraction() const {
    return known() && !above() ? nlohmann::json(value / ceiling) : nlohmann::json(nullptr);
  }
  // " = 42.1% of 8.0 tokens/s" or " (above the 8.0 tokens/s ceiling: the ceiling is too low)".
  std::string text(const char* unit) const {
    char buf[160];
    if (!known()) return "";
    if (above())
      std::snprintf(buf, sizeof buf, " (above the %.3g %s ceiling: the ceiling is too low here)",
                    ceiling, unit);
    else
      std::snprintf(buf, sizeof buf, " = %.1f%% of %.3g %s", 100 * value / ceiling, ceiling, unit);
    return buf;
  }
};

}  // namespace cugpt::tools
