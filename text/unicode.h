// UTF-8 decoding and the coarse Unicode classes that GPT-2's pre-tokenizer needs: letter
// (\p{L}), number (\p{N}), space (\s) and everything else (punctuation, symbols, marks,
// separators, controls, unassigned). Letters and numbers are Unicode's general categories, read
// from the tables that scripts/gen_unicode_tables.py generates from the Unicode Character
// Database (text/unicode_tables.h); White_Space is a short hand-written list.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cugpt {

enum class CharClass { letter, number, space, other };

// A byte that does not start a valid UTF-8 sequence decodes to this value, one byte long.
constexpr std::uint32_t kInvalidCodePoint = 0xFFFFFFFFu;

// Decodes the code point starting at byte i of s (i < s.size()) and returns its length in
// bytes. Overlong forms, surrogates, values above U+10FFFF and truncated sequences are invalid:
// cp = kInvalidCodePoint and the length is 1, so every byte of any input is consumed once.
std::size_t utf8_decode(std::string_view s, std::size_t i, std::uint32_t& cp);

// Appends the UTF-8 encoding of cp (a valid scalar value) to out.
void utf8_append(std::uint32_t cp, std::string& out);

// The class of a code point; kInvalidCodePoint is `other`.
CharClass char_class(std::uint32_t cp);

}  // namespace cugpt
