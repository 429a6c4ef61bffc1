// Streaming tokenization (text/stream_encoder.h, Tokenizer::last_cut): a text fed in pieces of
// any size gives exactly the ids of encoding it whole, for the byte tokenizer, GPT-2's BPE and
// RoBERTa's, on a text many windows long that mixes what GPT-2's pre-tokenizer treats
// specially (runs of spaces and newlines that the vocabulary merges, contractions, multi-byte
// and invalid UTF-8, Unicode spaces, special tokens); and what it holds stays bounded.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "kernels/error.h"
#include "text/bpe.h"
#include "text/stream_encoder.h"
#include "text/tokenizer.h"

namespace cugpt {
namespace {

using Ids = std::vector<std::int32_t>;

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::string kBpeDir = std::string(CUGPT_SOURCE_DIR) + "/tests/data/bpe";

// tests/data/bpe (GPT-2's layout: <|endoftext|> last), with extra special tokens appended, or
// RoBERTa's layout (<s> <pad> </s> <unk> first, <mask> last).
std::unique_ptr<Tokenizer> bpe(bool roberta, const std::vector<std::string>& extra = {}) {
  const nlohmann::json base = nlohmann::json::parse(read(kBpeDir + "/vocab.json"));
  nlohmann::ordered_json vocab;
  const int offset = roberta ? 4 : 0;
  if (roberta) vocab = {{"<s>", 0}, {"<pad>", 1}, {"</s>", 2}, {"<unk>", 3}};
  int next = 0;
  for (const auto& [token, id] : base.items()) {
    vocab[token] = id.get<int>() + offset;
    next = std::max(next, id.get<int>() + offset + 1);
  }
  if (roberta) vocab["<mask>"] = next++;
  for (const std::string& s : extra) vocab[s] = next++;
  TokenizerFiles files{roberta ? "roberta" : "gpt2", vocab.dump(), read(kBpeDir + "/merges.txt"),
                       "test"};
  TokenizerOptions o;
  o.kind = roberta ? TokenizerKind::roberta : TokenizerKind::gpt2;
  return std::make_unique<BpeTokenizer>(files, o);
}

// About `bytes` of text from fragments that meet in every order.
std::string mixed_text(std::size_t bytes, unsigned seed, const std::string& extra_special = "") {
  std::vector<std::string> frags = {"the",
                                    " the",
                                    "  the",
                                    "world",
                                    " world",
                                    "\n",
                                    "\n\n",
                                    "\n\n\n",
                                    " ",
                                    "  ",
                                    "   ",
                                    "\t",
                                    "\r\n",
                                    "'s",
                                    "'t",
                                    "'re",
                                    "'",
                                    "123",
                                    " 4",
                                    "12",
                                    "!!",
                                    "!",
                                    "hello",
                                    "é",
                                    "\xc3\xa9t\xc3\xa9",
                                    "\xe6\x97\xa5\xe6\x9c\xac",
                                    "\xf0\x9f\x98\x80",
                                    "\xff",
                                    "\xc3",
                                    "\xe2\x80\x83",
                                    " \xe2\x80\x83 ",
                                    "<|endoftext|>",
                                    "<|endo",
                                    "x",
                                    ".",
                                    ",",
                                    "  \n  ",
                                    "ll",
                                    " well",
                                    "-"};
  if (!extra_special.empty()) frags.push_back(extra_special);
  std::mt19937 rng(seed);
  std::string text;
  while (text.size() < bytes) text += frags[rng() % frags.size()];
  return text;
}

struct Streamed {
  Ids ids;
  std::size_t parts = 0;
  std::uint64_t peak = 0;
};

Streamed stream(const Tokenizer& tok, const std::string& text, unsigned seed, std::size_t max_chunk,
                std::uint64_t max_held = 1u << 30, std::size_t min_part = StreamEncoder::kMinPart) {
  Streamed s;
  StreamEncoder enc(
      tok, max_held, "test",
      [&](const Ids& part) {
        s.ids.insert(s.ids.end(), part.begin(), part.end());
        ++s.parts;
      },
      min_part);
  std::mt19937 rng(seed);
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t n = std::min<std::size_t>(1 + rng() % max_chunk, text.size() - at);
    enc.feed(std::string_view(text).substr(at, n));
    at += n;
  }
  enc.finish();
  EXPECT_EQ(enc.bytes(), text.size());
  EXPECT_EQ(enc.ids(), s.ids.size());
  s.peak = enc.peak_held();
  return s;
}

TEST(StreamEncoder, GivesTheIdsOfTheWholeTextForAnyCuts) {
  const std::string special = "<|a b|>";  // a special token with a space: no cut inside it
  std::vector<std::unique_ptr<Tokenizer>> toks;
  toks.push_back(std::make_unique<ByteTokenizer>());
  toks.push_back(bpe(false));
  toks.push_back(bpe(true));
  toks.push_back(bpe(false, {special}));
  for (const auto& tok : toks) {
    // Five windows and more: several parts, each cut where the stream found a place.
    const std::string text = mixed_text(5 * StreamEncoder::kMinPart + 12345, 7, special);
    const Ids whole = tok->encode(text);
    ASSERT_GT(whole.size(), 1000u);
    for (unsigned seed : {1u, 2u, 3u}) {
      for (std::size_t max_chunk : {std::size_t{1} << 10, std::size_t{100000}}) {
        SCOPED_TRACE(tok->name() + ", seed " + std::to_string(seed) + ", chunks up to " +
                     std::to_string(max_chunk));
        const Streamed s = stream(*tok, text, seed, max_chunk);
        ASSERT_EQ(s.ids.size(), whole.size());
        EXPECT_EQ(s.ids, whole);
        EXPECT_GE(s.parts, 4u);
        // Held: a window of kMinPart, the last chunk, and what follows the last cut.
        EXPECT_LE(s.peak, StreamEncoder::kMinPart + max_chunk + 64);
      }
    }
  }
}

TEST(StreamEncoder, GivesTheIdsOfTheWholeTextCutInThousandsOfPlaces) {
  // Parts of a few bytes: every kind of place the stream can cut at is taken many times.
  const std::string special = "<|a b|>";
  std::vector<std::unique_ptr<Tokenizer>> toks;
  toks.push_back(bpe(false));
  toks.push_back(bpe(true));
  toks.push_back(bpe(false, {special}));
  for (const auto& tok : toks) {
    const std::string text = mixed_text(40000, 11, special);
    const Ids whole = tok->encode(text);
    for (std::size_t min_part : {std::size_t{1}, std::size_t{7}, std::size_t{61}}) {
      SCOPED_TRACE(tok->name() + ", parts from " + std::to_string(min_part) + " bytes");
      const Streamed s = stream(*tok, text, 4, 16, 1u << 30, min_part);
      EXPECT_EQ(s.ids, whole);
      EXPECT_GE(s.parts, text.size() / (min_part + 16) / 2);
    }
  }
}

TEST(StreamEncoder, EmptyTextAndRobertasMarkers) {
  const auto roberta = bpe(true);
  for (const std::string& text : {std::string(), std::string("hi"), mixed_text(200000, 3)}) {
    const Streamed s = stream(*roberta, text, 5, 70000);
    EXPECT_EQ(s.ids, roberta->encode(text));
    ASSERT_GE(s.ids.size(), 2u);
    EXPECT_EQ(s.ids.front(), 0);  // <s> once at the start
    EXPECT_EQ(s.ids.back(), 2);   // </s> once at the end
    EXPECT_EQ(std::count(s.ids.begin(), s.ids.end(), 0), 1);
  }
}

TEST(StreamEncoder, ARunWithNoPlaceToCutIsRefusedPastTheLimit) {
  const auto gpt2 = bpe(false);
  const std::string letters(300000, 'a');
  try {
    stream(*gpt2, letters, 1, 65536, 200000);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("no place to cut"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  // The byte tokenizer cuts anywhere: the same text streams in bounded memory.
  const ByteTokenizer bytes;
  const Streamed s = stream(bytes, letters, 1, 65536, 200000);
  EXPECT_EQ(s.ids.size(), letters.size());
  EXPECT_LE(s.peak, StreamEncoder::kMinPart + 65536);
}

TEST(StreamEncoder, CutsOnlyWhereNothingSpansThePlace) {
  const auto gpt2 = bpe(false);
  // After a non-space ASCII character, before ASCII whitespace; the largest such place.
  EXPECT_EQ(gpt2->last_cut("ab cd ef"), 5u);
  EXPECT_EQ(gpt2->last_cut("ab cd\nef"), 5u);
  EXPECT_EQ(gpt2->last_cut("ab  cd"), 2u);  // not between two spaces: " cd" takes the second
  EXPECT_EQ(gpt2->last_cut("abcdef"), 0u);
  EXPECT_EQ(gpt2->last_cut("ab cd", 3), 0u);    // nothing at or after `from`
  EXPECT_EQ(gpt2->last_cut("\xc3\xa9 x"), 0u);  // after a multi-byte character: not taken
  // Inside a special token, or what may still become one, is no place.
  const auto spaced = bpe(false, {"<|a b|>"});
  EXPECT_EQ(spaced->last_cut("xx<|a b"), 0u);
  EXPECT_EQ(spaced->last_cut("xx<|a b|>"), 0u);
  EXPECT_EQ(spaced->last_cut("x y<|a b|>"), 1u);
  EXPECT_EQ(gpt2->last_cut("xx<|a b"), 5u);
}

}  // namespace
}  // namespace cugpt
