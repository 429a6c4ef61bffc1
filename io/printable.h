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

// A whole message made safe for one terminal line: control characters (newline, CR, ESC...)
// as \xNN and bytes that are not valid UTF-8 as \xNN; backslashes and valid UTF-8 are kept, so
// text printable() already escaped passes unchanged. The command line's last line of defence.
inline std::string one_line(std::string_view text) {
  std::string out;
  const auto hex = [&](unsigned char c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02X", c);
    out += buf;
  };
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f)
        hex(c);
      else
        out += static_cast<char>(c);
      ++i;
      continue;
    }
    // A UTF-8 sequence: its length from the lead byte, continuation bytes 10xxxxxx, no
    // overlong forms (C0, C1, E0 80..9F, F0 80..8F), nothing past U+10FFFF, no surrogates.
    std::size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    bool ok = n > 0 && i + n <= text.size();
    for (std::size_t k = 1; ok && k < n; ++k)
      ok = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    if (ok && n >= 3) {
      const unsigned char d = static_cast<unsigned char>(text[i + 1]);
      ok = !(c == 0xE0 && d < 0xA0) && !(c == 0xED && d >= 0xA0) && !(c == 0xF0 && d < 0x90) &&
           !(c == 0xF4 && d >= 0x90);
    }
    if (!ok) {
      hex(c);
      ++i;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace cugpt
