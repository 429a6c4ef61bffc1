#include "nn/bytes.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "kernels/error.h"

namespace cugpt {

std::string format_bytes(std::uint64_t bytes) {
  char buf[64];
  const double b = static_cast<double>(bytes);
  if (bytes < 1024ull) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  } else if (bytes < 1024ull * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  } else if (bytes < 1024ull * 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / (1024.0 * 1024.0));
  } else {
    std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1024.0 * 1024.0 * 1024.0));
  }
  return buf;
}

std::uint64_t parse_bytes(const std::string& text) {
  const auto bad = [&]() {
    return Error("invalid size '" + text + "' (expected e.g. 4GiB, 512MiB, 1.5G or a byte count)");
  };
  std::size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  const std::size_t num_begin = i;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  if (i == num_begin) throw bad();
  char* end = nullptr;
  const std::string num = text.substr(num_begin, i - num_begin);
  const double value = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size() || !std::isfinite(value)) throw bad();
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  std::string unit = text.substr(i);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  double scale = 1.0;
  if (unit.empty() || unit == "B") {
    scale = 1.0;
  } else {
    const std::string prefixes = "KMGT";
    const std::size_t p = unit.empty() ? std::string::npos : prefixes.find(unit[0]);
    if (p == std::string::npos) throw bad();
    const std::string rest = unit.substr(1);
    double base;
    if (rest.empty() || rest == "IB" || rest == "I") {
      base = 1024.0;
    } else if (rest == "B") {
      base = 1000.0;
    } else {
      throw bad();
    }
    scale = std::pow(base, static_cast<double>(p + 1));
  }
  const double bytes = value * scale;
  if (bytes < 0 || bytes > 1.8e19) throw bad();
  return static_cast<std::uint64_t>(std::llround(bytes));
}

}  // namespace cugpt
