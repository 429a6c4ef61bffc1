#include "text/unicode.h"

#include <algorithm>
#include <iterator>

#include "text/unicode_tables.h"

namespace cugpt {

namespace {

using Range = CodeRange;

// Unicode's White_Space property outside ASCII (what \s matches in GPT-2's regex engines; it is
// in PropList.txt, not UnicodeData.txt, and has not changed since Unicode 6.3).
constexpr Range kSpace[] = {{0x85, 0x85},     {0xA0, 0xA0},     {0x1680, 0x1680}, {0x2000, 0x200A},
                            {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}};

template <typename R>
bool in(const R* table, std::size_t n, std::uint32_t cp) {
  const R* it =
      std::upper_bound(table, table + n, cp, [](std::uint32_t v, const R& r) { return v < r.lo; });
  return it != table && cp <= (it - 1)->hi;
}

}  // namespace

std::size_t utf8_decode(std::string_view s, std::size_t i, std::uint32_t& cp) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  cp = kInvalidCodePoint;
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t n = 0;
  std::uint32_t value = 0, min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2, value = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3, value = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4, value = b0 & 0x07, min = 0x10000;
  } else {
    return 1;  // a continuation byte or 0xF8..0xFF
  }
  if (i + n > s.size()) return 1;
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 1;
    value = (value << 6) | (byte(i + k) & 0x3F);
  }
  if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 1;
  cp = value;
  return n;
}

void utf8_append(std::uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

CharClass char_class(std::uint32_t cp) {
  if (cp < 0x80) {
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return CharClass::letter;
    if (cp >= '0' && cp <= '9') return CharClass::number;
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return CharClass::space;
    return CharClass::other;
  }
  if (cp == kInvalidCodePoint) return CharClass::other;
  if (in(kSpace, std::size(kSpace), cp)) return CharClass::space;
  const char group = unicode_group(cp);
  return group == 'L' ? CharClass::letter : group == 'N' ? CharClass::number : CharClass::other;
}

char unicode_group(std::uint32_t cp) {
  using namespace unicode_tables;
  if (in(kLetter, kLetterCount, cp)) return 'L';
  if (in(kNumber, kNumberCount, cp)) return 'N';
  if (in(kMark, kMarkCount, cp)) return 'M';
  return 0;
}

}  // namespace cugpt
