// Text from a file (a tensor name, a config value, an .npy dtype) quoted in an error message.
// Control characters are escaped, so a hostile or corrupt file cannot break the one-line error
// that every loader promises, nor write terminal escape sequences.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace cugpt {

// `text` with \n, \r, \t and \\ escaped and every other byte below 0x20 (and DEL) as \xNN;
// other bytes, UTF-8 included, are kept. At most `limit` input bytes, then "...".
inline std::string printable(std::string_view text, std::size_t limit = 200) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == limit) return out + "...";
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace cugpt
