// The Unicode classes GPT-2's pre-tokenizer splits by, from the committed tables generated from
// the Unicode Character Database (scripts/gen_unicode_tables.py). With Debian's unicode-data
// installed, every code point is checked against UnicodeData.txt itself.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "text/pretokenize.h"
#include "text/unicode.h"
#include "text/unicode_tables.h"

namespace cugpt {
namespace {

const char kUcd[] = "/usr/share/unicode/UnicodeData.txt";

// Each code point's two-letter category; the <..., First>/<..., Last> pairs cover the code
// points between them.
std::map<std::uint32_t, std::string> read_ucd(const std::string& path) {
  std::map<std::uint32_t, std::string> cats;
  std::ifstream in(path);
  std::uint32_t first = 0;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string field; std::getline(ss, field, ';');) f.push_back(field);
    if (f.size() < 3) continue;
    const auto cp = static_cast<std::uint32_t>(std::stoul(f[0], nullptr, 16));
    const std::string& name = f[1];
    if (name.size() > 8 && name.compare(name.size() - 8, 8, ", First>") == 0) {
      first = cp;
      continue;
    }
    if (name.size() > 7 && name.compare(name.size() - 7, 7, ", Last>") == 0) {
      for (std::uint32_t c = first; c <= cp; ++c) cats[c] = f[2];
      continue;
    }
    cats[cp] = f[2];
  }
  return cats;
}

TEST(UnicodeTables, EqualUnicodeDataForEveryCodePoint) {
  std::error_code ec;
  if (!std::filesystem::exists(kUcd, ec))
    GTEST_SKIP() << kUcd << " is not installed (Debian: apt-get install unicode-data)";
  const auto size = std::filesystem::file_size(kUcd, ec);
  if (size != unicode_tables::kSourceBytes)
    GTEST_SKIP() << kUcd << " has " << size << " bytes, the tables came from a "
                 << unicode_tables::kSourceBytes << "-byte file (Unicode "
                 << unicode_tables::kVersion
                 << "): another Unicode version; regenerate with scripts/gen_unicode_tables.py";
  const auto cats = read_ucd(kUcd);
  ASSERT_EQ(cats.size(), unicode_tables::kAssigned);
  std::size_t checked = 0, wrong = 0;
  for (std::uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const auto it = cats.find(cp);
    const char group = it == cats.end() ? 0 : it->second[0];
    const char want = group == 'L' || group == 'M' || group == 'N' ? group : 0;
    if (unicode_group(cp) != want && ++wrong <= 10)
      ADD_FAILURE() << std::hex << "U+" << cp << ": table says '" << unicode_group(cp)
                    << "', UnicodeData.txt " << (it == cats.end() ? "unassigned" : it->second);
    ++checked;
  }
  EXPECT_EQ(wrong, 0u) << "of " << checked << " code points";
}

TEST(UnicodeTables, AreSortedAndDisjoint) {
  using namespace unicode_tables;
  std::vector<CodeRange> all;
  for (const auto& [t, n] :
       {std::make_pair(kLetter, kLetterCount), std::make_pair(kMark, kMarkCount),
        std::make_pair(kNumber, kNumberCount)}) {
    ASSERT_GT(n, 0u);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_LE(t[i].lo, t[i].hi);
      if (i) EXPECT_GT(t[i].lo, t[i - 1].hi + 1) << "ranges " << i - 1 << " and " << i;
      all.push_back(t[i]);
    }
  }
  std::sort(all.begin(), all.end(),
            [](const CodeRange& a, const CodeRange& b) { return a.lo < b.lo; });
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_GT(all[i].lo, all[i - 1].hi);
}

// \p{L} and \p{N}, as GPT-2's pre-tokenizer uses them, on code points of many scripts.
TEST(UnicodeClasses, LettersNumbersAndTheRest) {
  for (std::uint32_t cp :
       {0x41u, 0x7Au, 0xAAu, 0xB5u, 0xE9u, 0x3B1u, 0x416u, 0x5D0u, 0x628u, 0x915u, 0xE01u, 0x4E00u,
        0x9FFFu, 0xAC00u, 0x3042u, 0x1D400u, 0x20000u, 0x2CEB0u, 0x31350u})
    EXPECT_EQ(char_class(cp), CharClass::letter) << std::hex << cp;
  for (std::uint32_t cp : {0x30u, 0x39u, 0xB2u, 0xBDu, 0x660u, 0x966u, 0x2160u, 0x2460u, 0xFF10u,
                           0x104A0u,   // Osmanya digit zero (Nd): was a letter
                           0x10140u,   // Greek acrophonic fraction (Nl): was a letter
                           0x10175u})  // Greek one half sign (No): was a letter
    EXPECT_EQ(char_class(cp), CharClass::number) << std::hex << cp;
  for (std::uint32_t cp : {0x21u, 0x2Cu, 0xA1u, 0xD7u, 0x2014u, 0x20ACu, 0x1F600u, 0xE000u,
                           0x0378u,   // unassigned
                           0x0301u,   // combining acute accent (Mn)
                           0x0ECEu,   // Lao yamakkan (Mn): was a letter
                           0x135Du,   // Ethiopic combining gemination mark (Mn): was a letter
                           0x1712u,   // Tagalog vowel sign i (Mn): was a letter
                           0x0CF3u,   // Kannada sign combining anusvara (Mc): was a letter
                           0x17B6u,   // Khmer vowel sign aa (Mc): was a letter
                           0x1390u,   // Ethiopic tonal mark (So): was a letter
                           0x1360u})  // Ethiopic section mark (Po): was a letter
    EXPECT_EQ(char_class(cp), CharClass::other) << std::hex << cp;
  for (std::uint32_t cp : {0x20u, 0x0Au, 0xA0u, 0x2003u, 0x3000u})
    EXPECT_EQ(char_class(cp), CharClass::space) << std::hex << cp;
  EXPECT_EQ(unicode_group(0x0301), 'M');
  EXPECT_EQ(unicode_group(0x17B6), 'M');
  EXPECT_EQ(unicode_group(0x0041), 'L');
  EXPECT_EQ(unicode_group(0x0660), 'N');
  EXPECT_EQ(unicode_group(0x0021), 0);
}

std::vector<std::string> pieces(const std::string& text) {
  std::vector<std::string> out;
  for (const Piece& p : gpt2_pretokenize(text)) out.push_back(text.substr(p.begin, p.size));
  return out;
}

// A contraction after a mark: the mark is not a letter, so "x" and "\u135D's" do not make one
// word, and the mark starts a punctuation run with the apostrophe, as in GPT-2's reference
// regex (`regex` module: \p{L} excludes Mn). The hand-written table made it "x\u135D" + "'s".
TEST(UnicodeClasses, AContractionAfterAMarkSplitsAsGpt2Does) {
  const std::string mark = "\xE1\x8D\x9D";  // U+135D
  EXPECT_EQ(pieces("x" + mark + "'s"), (std::vector<std::string>{"x", mark + "'", "s"}));
  const std::string khmer_aa = "\xE1\x9E\xB6";  // U+17B6, a spacing mark (Mc)
  EXPECT_EQ(pieces("\xE1\x9E\x80" + khmer_aa + " it's"),
            (std::vector<std::string>{"\xE1\x9E\x80", khmer_aa, " it", "'s"}));
}

}  // namespace
}  // namespace cugpt
