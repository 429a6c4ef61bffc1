// One validation layer for numbers written as text: command-line options and metadata read back
// from files (a checkpoint's "step"). Every parse is strict (the whole text, no junk after it),
// overflow-checked, finite, and in a stated range; a failure is one line naming the option or
// field: "--lr = 'nan' is not a finite number", "--log-every = 0 is out of range [1, 2^63-1]".
#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace cugpt {

constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

// `what` names the source, e.g. "--steps" or "checkpoint 'run/manifest.json': field 'step'".
std::int64_t parse_int(const std::string& what, const std::string& text, std::int64_t min,
                       std::int64_t max = kInt64Max);
std::uint64_t parse_uint(const std::string& what, const std::string& text,
                         std::uint64_t max = std::numeric_limits<std::uint64_t>::max());
double parse_real(const std::string& what, const std::string& text, double min, double max);
// Same range checks for values already parsed.
void check_int(const std::string& what, std::int64_t v, std::int64_t min,
               std::int64_t max = kInt64Max);
void check_real(const std::string& what, double v, double min, double max);
// "[1, 2^63-1]", "[0, 1]": the range as messages print it.
std::string int_range(std::int64_t min, std::int64_t max);

}  // namespace cugpt
