#include "tools/options.h"

#include <cstdio>

#include <unistd.h>

#include "io/printable.h"
#include "kernels/error.h"
#include "nn/bytes.h"

namespace cugpt::tools::opt {

namespace {

constexpr std::uint64_t kMaxSize = std::uint64_t{1} << 50;

// CLI11 prefixes the option's name ("--lr: "); the parsers start with the name they were given,
// here empty, so the " = " they put after it goes.
std::string message_of(const Error& e) {
  std::string m = e.what();
  if (m.rfind(" = ", 0) == 0) m = m.substr(3);
  return m;
}

template <typename F>
CLI::Validator validator(const std::string& description, F check) {
  return CLI::Validator(
      [check](std::string& text) -> std::string {
        try {
          check(text);
        } catch (const Error& e) {
          return message_of(e);
        }
        return {};
      },
      description);
}

}  // namespace

CLI::Validator count(std::int64_t min, std::int64_t max) {
  return validator("INT in " + int_range(min, max),
                   [=](const std::string& t) { parse_int("", t, min, max); });
}

CLI::Validator seed() {
  return validator("UINT64", [](const std::string& t) { parse_uint("", t); });
}

CLI::Validator real(double min, double max) {
  return validator("FINITE", [=](const std::string& t) { parse_real("", t, min, max); });
}

CLI::Validator size(std::uint64_t min) {
  return validator("SIZE", [=](const std::string& t) { parse_size("", t, min); });
}

CLI::Validator bandwidth() {
  return validator("SIZE/s", [](const std::string& t) { parse_bandwidth("", t); });
}

double parse_bandwidth(const std::string& option, const std::string& text) {
  const std::string name = option.empty() ? "" : option + ": ";
  const std::size_t slash = text.size() >= 2 ? text.size() - 2 : std::string::npos;
  if (slash == std::string::npos || text.compare(slash, 2, "/s") != 0)
    throw Error(name + "'" + printable(text, 60) + "' is not a bandwidth (16GB/s, 12.5GiB/s)");
  const std::string size = text.substr(0, slash);
  std::uint64_t bytes = 0;
  try {
    bytes = parse_bytes(size);
  } catch (const Error&) {
    throw Error(name + "'" + printable(text, 60) + "' is not a bandwidth (16GB/s, 12.5GiB/s)");
  }
  if (bytes < 1000000 || bytes > 1000000000000000ull)
    throw Error(name + "'" + printable(text, 60) + "' is out of range [1MB/s, 1PB/s]");
  return static_cast<double>(bytes);
}

std::uint64_t parse_size(const std::string& option, const std::string& text, std::uint64_t min) {
  std::uint64_t v = 0;
  try {
    v = parse_bytes(text);
  } catch (const Error& e) {
    throw Error(option.empty() ? e.what() : option + ": " + e.what());
  }
  // parse_bytes rounds through a double: a value past 2^63 comes back as garbage, so the
  // bound is checked on the result and anything above 1 PiB refused.
  if (v < min || v > kMaxSize)
    throw Error(option + " = '" + printable(text, 60) + "' is out of range [" +
                std::to_string(min) + " B, 1 PiB]");
  return v;
}

std::uint64_t physical_memory() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page);
}

std::uint64_t available_memory() {
  std::FILE* f = std::fopen("/proc/meminfo", "r");
  if (!f) return 0;
  char line[256];
  unsigned long long kib = 0;
  bool found = false;
  while (!found && std::fgets(line, sizeof line, f))
    found = std::sscanf(line, "MemAvailable: %llu kB", &kib) == 1;
  std::fclose(f);
  return found ? static_cast<std::uint64_t>(kib) * 1024 : 0;
}

}  // namespace cugpt::tools::opt
