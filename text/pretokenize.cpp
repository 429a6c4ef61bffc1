#include "text/pretokenize.h"

#include <cstdint>

#include "text/unicode.h"

namespace cugpt {

namespace {

// The class of the character at byte i of s (i < s.size()) and its length in bytes.
CharClass class_at(std::string_view s, std::size_t i, std::size_t& length) {
  std::uint32_t cp = 0;
  length = utf8_decode(s, i, cp);
  return char_class(cp);
}

// The length in bytes of a contraction 's 't 're 've 'm 'll 'd at byte i, or 0. The regex is
// case-sensitive ("'S" is no contraction), and ASCII bytes never occur inside a multi-byte
// character, so bytes can be compared directly.
std::size_t contraction(std::string_view s, std::size_t i) {
  if (s[i] != '\'' || i + 1 >= s.size()) return 0;
  const char a = s[i + 1];
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 >= s.size()) return 0;
  const char b = s[i + 2];
  return (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l') ? 3 : 0;
}

// ` ?X+` for the class X: an optional U+0020 then one or more characters of class X. Returns the
// end of the match or i when there is none. Without the space the match would have to start
// with a space, which is never of class X, so the optional space needs no backtracking.
std::size_t space_then_run(std::string_view s, std::size_t i, CharClass x) {
  std::size_t j = i + (s[i] == ' ' ? 1 : 0), n = 0;
  if (j >= s.size() || class_at(s, j, n) != x) return i;
  do {
    j += n;
  } while (j < s.size() && class_at(s, j, n) == x);
  return j;
}

}  // namespace

void gpt2_pretokenize(std::string_view text, const std::function<void(const Piece&)>& emit) {
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t end = i;
    if (const std::size_t n = contraction(text, i)) {
      end = i + n;
    } else if ((end = space_then_run(text, i, CharClass::letter)) != i ||
               (end = space_then_run(text, i, CharClass::number)) != i ||
               (end = space_then_run(text, i, CharClass::other)) != i) {
      // one of the three ` ?X+` alternatives matched
    } else {
      // text[i] starts whitespace. `\s+(?!\S)` takes the whole run at the end of the text, else
      // the run less its last character (which then leads the next word, as in " world"); one
      // whitespace character before a non-space falls through to `\s+` and is taken alone.
      std::size_t j = i, last = i, n = 0;
      while (j < text.size() && class_at(text, j, n) == CharClass::space) {
        last = j;
        j += n;
      }
      end = (j == text.size() || last == i) ? j : last;
    }
    emit({i, end - i});
    i = end;
  }
}

std::vector<Piece> gpt2_pretokenize(std::string_view text) {
  std::vector<Piece> pieces;
  gpt2_pretokenize(text, [&](const Piece& p) { pieces.push_back(p); });
  return pieces;
}

}  // namespace cugpt
