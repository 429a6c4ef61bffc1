// Unicode's general category groups that GPT-2's pre-tokenizer uses, as sorted code point
// ranges generated from the Unicode Character Database (text/unicode_tables.cpp, written by
// scripts/gen_unicode_tables.py from UnicodeData.txt and committed, so the build needs no UCD).
#pragma once

#include <cstddef>
#include <cstdint>

namespace cugpt {

struct CodeRange {
  std::uint32_t lo, hi;  // inclusive
};

namespace unicode_tables {

extern const char kVersion[];             // "15.0.0"
extern const std::uint64_t kSourceBytes;  // the size of the UnicodeData.txt they came from
extern const std::size_t kAssigned;       // code points with a category there

extern const CodeRange kLetter[];  // \p{L}: Lu Ll Lt Lm Lo
extern const std::size_t kLetterCount;
extern const CodeRange kMark[];  // \p{M}: Mn Mc Me
extern const std::size_t kMarkCount;
extern const CodeRange kNumber[];  // \p{N}: Nd Nl No
extern const std::size_t kNumberCount;

}  // namespace unicode_tables

// The general category group of a code point: 'L', 'M', 'N', or 0 for any other (punctuation,
// symbols, separators, controls, format, private use, surrogates, unassigned).
char unicode_group(std::uint32_t cp);

}  // namespace cugpt
