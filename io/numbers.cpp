#include "io/numbers.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "io/printable.h"
#include "kernels/error.h"

namespace cugpt {

namespace {

std::string int_text(std::int64_t v) {
  if (v == kInt64Max) return "2^63-1";
  if (v == std::numeric_limits<std::int64_t>::min()) return "-2^63";
  return std::to_string(v);
}

std::string real_text(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

[[noreturn]] void bad(const std::string& what, const std::string& text, const char* expected) {
  throw Error(what + " = '" + printable(text, 60) + "' is not " + expected);
}

// Digits only after an optional sign: strtoll alone accepts leading spaces and "+-", and
// strtod accepts hex, "nan" and "infinity".
bool plain_integer(const std::string& s) {
  std::size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

}  // namespace

std::string int_range(std::int64_t min, std::int64_t max) {
  return "[" + int_text(min) + ", " + int_text(max) + "]";
}

void check_int(const std::string& what, std::int64_t v, std::int64_t min, std::int64_t max) {
  if (v < min || v > max)
    throw Error(what + " = " + std::to_string(v) + " is out of range " + int_range(min, max));
}

void check_real(const std::string& what, double v, double min, double max) {
  if (!std::isfinite(v)) throw Error(what + " = " + real_text(v) + " is not a finite number");
  if (v < min || v > max)
    throw Error(what + " = " + real_text(v) + " is out of range [" + real_text(min) + ", " +
                real_text(max) + "]");
}

std::int64_t parse_int(const std::string& what, const std::string& text, std::int64_t min,
                       std::int64_t max) {
  if (!plain_integer(text)) bad(what, text, "an integer");
  errno = 0;
  const long long v = std::strtoll(text.c_str(), nullptr, 10);
  if (errno == ERANGE)
    throw Error(what + " = " + printable(text, 60) + " is out of range " + int_range(min, max));
  check_int(what, v, min, max);
  return v;
}

std::uint64_t parse_uint(const std::string& what, const std::string& text, std::uint64_t max) {
  if (!plain_integer(text) || text[0] == '-' || text[0] == '+') bad(what, text, "an integer >= 0");
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
  if (errno == ERANGE || v > max)
    throw Error(what + " = " + printable(text, 60) + " is out of range [0, " + std::to_string(max) +
                "]");
  return v;
}

double parse_real(const std::string& what, const std::string& text, double min, double max) {
  // Decimal notation only: digits, one point, an exponent. No "nan", "inf", hex floats.
  bool digit = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c >= '0' && c <= '9')
      digit = true;
    else if (!(c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+'))
      bad(what, text, "a finite number");
  }
  if (!digit) bad(what, text, "a finite number");
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) bad(what, text, "a finite number");
  if (errno == ERANGE && std::isinf(v)) bad(what, text, "a finite number (it overflows)");
  check_real(what, v, min, max);
  return v;
}

}  // namespace cugpt
