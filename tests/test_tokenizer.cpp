// Tokenizers: the byte tokenizer, GPT-2's byte-level BPE and RoBERTa's variant, on a small BPE
// vocabulary that the tests write themselves, with ids derived by hand; plus Hugging Face's
// answers for the same vocabulary when scripts/make_golden_bpe.py has written them.
#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "kernels/error.h"
#include "text/bpe.h"
#include "text/pretokenize.h"
#include "text/tokenizer.h"
#include "train/dataset.h"

namespace cugpt {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Ids = std::vector<std::int32_t>;

// GPT-2's bytes_to_unicode, written again from its definition so that the vocabulary the tests
// build does not come from the code under test. Printable Latin-1 bytes stand for themselves and
// come first in the vocabulary (ids 0..187, so ASCII c has id c - 33); the 68 others (controls,
// space, DEL, 0x80..0xA0, soft hyphen) become U+0100.. in byte order and take ids 188..255:
// '\t' is 'ĉ' = 197, '\n' is 'Ċ' = 198, ' ' is 'Ġ' = 220.
bool printable(int b) {
  return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
}

std::vector<std::pair<int, std::string>> bytes_in_vocab_order() {
  std::vector<std::pair<int, std::string>> order;
  int next = 256;
  std::vector<int> rest;
  for (int b = 0; b < 256; ++b) {
    if (printable(b)) {
      order.emplace_back(b, "");
    } else {
      rest.push_back(b);
    }
  }
  for (int b : rest) order.emplace_back(b, "");
  for (auto& [b, text] : order) {
    const int cp = printable(b) ? b : next++;
    text = cp < 0x80 ? std::string(1, static_cast<char>(cp))
                     : std::string{static_cast<char>(0xC0 | (cp >> 6)),
                                   static_cast<char>(0x80 | (cp & 0x3F))};
  }
  return order;
}

// The merges, in rank order; merge r makes id 256 + r. Some exist only to lose: "t h" ranks
// below "h e", "r l" below "o r", "e ll" below "h e", so an implementation that merges the
// leftmost pair, or the last listed, gives other ids than the hand-derived ones below.
const std::vector<std::pair<std::string, std::string>> kMerges = {
    {"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"t", "h"},  {"o", "r"},      // 256..260
    {"r", "l"}, {"Ġ", "w"}, {"Ġw", "or"}, {"l", "d"},  {"Ġwor", "ld"},  // 261..265
    {"'", "s"}, {"'", "t"}, {"1", "2"},   {"12", "3"}, {"Ġ", "4"},      // 266..270
    {"Ċ", "Ċ"}, {"Ġ", "Ġ"}, {"!", "!"},   {"l", "l"},  {"e", "ll"},     // 271..275
    {"Ã", "©"},                                                         // 276 (é)
};
constexpr std::int32_t kEndOfText = 277;  // after the merges
constexpr std::int32_t kVocab = 278;
constexpr std::int32_t kRobertaOffset = 4;  // <s> <pad> </s> <unk> come first in RoBERTa

// A vocab.json written one entry a line, in the given order (entry k is on line k + 2).
void write_vocab(const fs::path& path, const std::vector<std::pair<std::string, json>>& entries) {
  std::ofstream out(path, std::ios::binary);
  out << "{\n";
  for (std::size_t k = 0; k < entries.size(); ++k)
    out << "  " << json(entries[k].first).dump() << ": " << entries[k].second.dump()
        << (k + 1 < entries.size() ? ",\n" : "\n");
  out << "}\n";
}

std::vector<std::pair<std::string, json>> vocab_entries(bool roberta) {
  std::vector<std::pair<std::string, json>> v;
  if (roberta) v = {{"<s>", 0}, {"<pad>", 1}, {"</s>", 2}, {"<unk>", 3}};
  for (const auto& [b, text] : bytes_in_vocab_order()) v.emplace_back(text, v.size());
  for (const auto& [a, b] : kMerges) v.emplace_back(a + b, v.size());
  v.emplace_back(roberta ? "<mask>" : "<|endoftext|>", v.size());
  return v;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

void write_merges(const fs::path& path) {
  std::string text = "#version: 0.2\n";
  for (const auto& [a, b] : kMerges) text += a + " " + b + "\n";
  write_text(path, text);
}

class Bpe : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::temp_directory_path() /
            ("cugpt_tok_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(root_);
    for (const char* d : {"gpt2", "roberta", "bad"}) fs::create_directories(root_ / d);
    write_vocab(root_ / "gpt2" / "vocab.json", vocab_entries(false));
    write_merges(root_ / "gpt2" / "merges.txt");
    write_vocab(root_ / "roberta" / "vocab.json", vocab_entries(true));
    write_merges(root_ / "roberta" / "merges.txt");
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string dir(const char* name) const { return (root_ / name).string(); }

  // The message of the Error that loading `spec` throws, or "" if it loads.
  std::string load_error(const std::string& spec) const { return load_error_with(spec, {}); }

  std::string load_error_with(const std::string& spec, const TokenizerOptions& o) const {
    try {
      load_tokenizer(spec, o);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  fs::path root_;
};

// Random valid UTF-8: code points drawn from ASCII, Latin-1, the BMP and beyond, no surrogates.
std::string random_utf8(std::mt19937& rng, int max_chars) {
  std::string s;
  const int n = std::uniform_int_distribution<int>(0, max_chars)(rng);
  for (int i = 0; i < n; ++i) {
    const std::uint32_t tops[] = {0x80, 0x100, 0x800, 0x10000, 0x110000};
    std::uint32_t cp = std::uniform_int_distribution<std::uint32_t>(0, tops[rng() % 5] - 1)(rng);
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = ' ';
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
    } else if (cp < 0x10000) {
      s += {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
            static_cast<char>(0x80 | (cp & 0x3F))};
    } else {
      s += {static_cast<char>(0xF0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
            static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), static_cast<char>(0x80 | (cp & 0x3F))};
    }
  }
  return s;
}

TEST(ByteTokenizer, IdsAreBytesAndRoundTrip) {
  const auto t = load_tokenizer("byte");
  EXPECT_EQ(t->name(), "byte");
  EXPECT_EQ(t->vocab_size(), 256);
  EXPECT_EQ(t->encode("Hi\n"), (Ids{72, 105, 10}));
  EXPECT_EQ(t->encode("é€"), (Ids{0xC3, 0xA9, 0xE2, 0x82, 0xAC}));  // UTF-8 bytes
  EXPECT_EQ(t->encode(""), Ids{});
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    const std::string s = random_utf8(rng, 30);
    EXPECT_EQ(t->decode(t->encode(s)), s);
  }
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  EXPECT_EQ(t->decode(t->encode(all)), all);
  EXPECT_EQ(t->token_text('A'), "A");
  EXPECT_EQ(t->token_text(' '), "<0x20>");
  EXPECT_EQ(t->token_text(0xC3), "<0xC3>");
  for (std::int32_t bad : {256, -1}) {
    EXPECT_THROW(t->decode({65, bad}), Error);
    EXPECT_THROW(t->token_text(bad), Error);
  }
  try {
    t->decode({65, 300});
    FAIL() << "decode accepted 300";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("token id 300 at position 1"), std::string::npos);
  }
}

TEST(PreTokenize, SplitsLikeGpt2Regex) {
  const auto split = [](const std::string& s) {
    std::vector<std::string> out;
    for (const Piece& p : gpt2_pretokenize(s)) out.push_back(s.substr(p.begin, p.size));
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(split("Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(split("I'm"), (V{"I", "'m"}));
  EXPECT_EQ(split("'S'sX"), (V{"'", "S", "'s", "X"}));  // contractions are lowercase only
  EXPECT_EQ(split("  x"), (V{" ", " x"}));              // the last space joins the word
  EXPECT_EQ(split("x  \n"), (V{"x", "  \n"}));          // trailing whitespace stays whole
  EXPECT_EQ(split("a\tb"), (V{"a", "\t", "b"}));        // only U+0020 joins a word
  EXPECT_EQ(split("café 12€"), (V{"café", " 12", "€"}));
  EXPECT_EQ(split("日本語、テスト"), (V{"日本語", "、", "テスト"}));
  EXPECT_EQ(split("x²"), (V{"x", "²"}));                      // superscript two is a number
  EXPECT_EQ(split("👋🏽hi"), (V{"👋🏽", "hi"}));      // emoji are symbols
  EXPECT_EQ(split("e\xCC\x81t"), (V{"e", "\xCC\x81", "t"}));  // a combining mark is no letter
  EXPECT_EQ(split("a\xC2\xA0"
                  "b"),
            (V{"a", "\xC2\xA0", "b"}));  // NBSP is whitespace
  EXPECT_EQ(split("\xFF\xFE"
                  "ab"),
            (V{"\xFF\xFE", "ab"}));  // invalid bytes: punctuation
  EXPECT_EQ(split(""), V{});
}

// Golden ids derived by hand from the vocabulary above. Recall: ASCII c is c - 33 (t 83, h 71,
// e 68, o 78, ' 6, 1 16), ' ' (Ġ) 220, '\n' (Ċ) 198, merge r is 256 + r.
struct Case {
  const char* text;
  Ids ids;
};
const Case kGolden[] = {
    // "the" | " world". In "the", (h,e) ranks 257 below (t,h) 259: [t, he]; "t he" is not a
    // merge. " world": (o,r) first -> Ġ w or l d, then (Ġ,w) -> Ġw or l d, (Ġw,or) -> Ġwor l d,
    // (l,d) -> Ġwor ld, (Ġwor,ld) -> Ġworld 265. Merging (r,l) first would leave o rl.
    {"the world", {83, 257, 265}},
    // Ġ t h e: (Ġ,t) 256 first, then (h,e), then (Ġt,he) -> Ġthe 258.
    {" the", {258}},
    // h e l l o: (h,e) 257 before (l,l) 274 -> he ll o; "e ll" (275) never gets its chance.
    {"hello", {257, 274, 78}},
    // "it" | "'s" | " can" | "'t": i 72, t 83 (no merge); 's 266; Ġ c a n (no merge); 't 267.
    {"it's can't", {72, 83, 266, 220, 66, 64, 77, 267}},
    // "IT" | "'" | "S": the regex's contractions are lowercase only. I 40, T 51, ' 6, S 50.
    {"IT'S", {40, 51, 6, 50}},
    // "123" | " 4" | " 1234": 1 2 3 -> 12 3 -> 123 269; Ġ 4 -> Ġ4 270; Ġ 1 2 3 4 -> Ġ 123 4.
    {"123 4 1234", {269, 270, 220, 269, 19}},
    // "Hi" | "!!" | " ok": H 39, i 72; !! 273; Ġ o k (no merge) 220 78 74.
    {"Hi!! ok", {39, 72, 273, 220, 78, 74}},
    // "a" | " ..." : the space joins the punctuation run. a 64; Ġ . . . (. is 13).
    {"a ...", {64, 220, 13, 13, 13}},
    // "a" | "\n" | "\n" | "b": a run of whitespace before a word gives up its last character,
    // which is then alone, so "Ċ Ċ" (271) cannot merge across the two pieces.
    {"a\n\nb", {64, 198, 198, 65}},
    // Trailing whitespace stays one piece: "a" | "\n\n" -> ĊĊ 271.
    {"a\n\n", {64, 271}},
    // "x" | "  " | " y": three spaces before a word; ĠĠ 272, then Ġ y 220 88.
    {"x   y", {87, 272, 220, 88}},
    // A tab is whitespace but never joins a word: "a" | "\t" (ĉ 197) | "b".
    {"a\tb", {64, 197, 65}},
    // "<|endoftext|>" is one token wherever it is; the text on each side is encoded alone:
    // "the" -> t he; " the" -> Ġthe.
    {"the<|endoftext|> the", {83, 257, kEndOfText, 258}},
    // "a " ends in a space, which is a piece by itself (Ġ 220) before the special token.
    {"a <|endoftext|>b", {64, 220, kEndOfText, 65}},
    // Not quite the special token: "<|" (< 27, | 91) | "endoftext" (no merge applies).
    {"<|endoftext", {27, 91, 68, 77, 67, 78, 69, 83, 68, 87, 83}},
    // é is C3 A9 -> Ã © -> 276. c 66, a 64, f 69.
    {"café", {66, 64, 69, 276}},
    // ÿ is C3 BF -> Ã (127) ¿ (106 + 0xBF - 0xAE = 123); no merge.
    {"ÿ", {127, 123}},
};

TEST_F(Bpe, Gpt2GoldenIdsDerivedByHand) {
  const auto t = load_tokenizer(dir("gpt2"));
  EXPECT_EQ(t->vocab_size(), kVocab);
  EXPECT_NE(t->name().find("gpt2"), std::string::npos) << t->name();
  for (const Case& c : kGolden) {
    EXPECT_EQ(t->encode(c.text), c.ids) << "text: " << json(c.text).dump();
    EXPECT_EQ(t->decode(c.ids), c.text);
  }
  EXPECT_EQ(t->token_text(258), "Ġthe");
  EXPECT_EQ(t->token_text(220), "Ġ");
  EXPECT_EQ(t->token_text(kEndOfText), "<|endoftext|>");
  const auto& bpe = dynamic_cast<const BpeTokenizer&>(*t);
  EXPECT_EQ(bpe.specials().end_of_text, kEndOfText);
  EXPECT_EQ(bpe.specials().bos, -1);
  EXPECT_EQ(bpe.find("Ġworld"), 265);
}

TEST_F(Bpe, Gpt2RoundTripsAnyText) {
  const auto t = load_tokenizer(dir("gpt2"));
  std::vector<std::string> texts = {"",
                                    " ",
                                    "\n",
                                    "Hello, world! It's 2024.\n\n  Indented\tline\r\n",
                                    "<|endoftext|>",
                                    "<|endoftext|><|endoftext|>x<|endoftext|>",
                                    "naïve café — 日本語 😀👋🏽 ²³ e\xCC\x81",
                                    "'s'S'll've're 'd 'm 't",
                                    std::string("nul\0byte", 8)};
  std::mt19937 rng(11);
  for (int i = 0; i < 400; ++i) texts.push_back(random_utf8(rng, 40));
  // Valid UTF-8 or not, every byte has a token.
  for (int i = 0; i < 200; ++i) {
    std::string s(rng() % 40, ' ');
    for (char& c : s) c = static_cast<char>(rng());
    texts.push_back(s);
  }
  const char* frags[] = {"the", " world", "'s", " ", "  ", "\n", "12", "!", "é", "<|endoftext|>"};
  for (int i = 0; i < 200; ++i) {
    std::string s;
    for (int k = rng() % 12; k > 0; --k) s += frags[rng() % 10];
    texts.push_back(s);
  }
  for (const std::string& s : texts) {
    const Ids ids = t->encode(s);
    for (std::int32_t id : ids) ASSERT_TRUE(id >= 0 && id < kVocab) << id;
    EXPECT_EQ(t->decode(ids), s) << json(s).dump(-1, ' ', false, json::error_handler_t::replace);
    EXPECT_LE(ids.size(), s.size());
  }
}

TEST_F(Bpe, RobertaWrapsAndKnowsItsSpecialTokens) {
  const auto t = load_tokenizer(dir("roberta"));  // chosen because vocab.json has <s>
  const auto& bpe = dynamic_cast<const BpeTokenizer&>(*t);
  EXPECT_EQ(bpe.kind(), TokenizerKind::roberta);
  EXPECT_NE(t->name().find("roberta"), std::string::npos) << t->name();
  const std::int32_t mask = kVocab - 1 + kRobertaOffset;  // last, where GPT-2 has <|endoftext|>
  EXPECT_EQ(bpe.specials().bos, 0);
  EXPECT_EQ(bpe.specials().pad, 1);
  EXPECT_EQ(bpe.specials().eos, 2);
  EXPECT_EQ(bpe.specials().unk, 3);
  EXPECT_EQ(bpe.specials().mask, mask);
  EXPECT_EQ(t->vocab_size(), kVocab + kRobertaOffset);
  // Every id of the GPT-2 vocabulary moves up by 4: t 87, he 261, Ġworld 269, Ġthe 262.
  EXPECT_EQ(t->encode("the world"), (Ids{0, 87, 261, 269, 2}));
  EXPECT_EQ(t->encode(""), (Ids{0, 2}));
  EXPECT_EQ(t->encode("<mask> the"), (Ids{0, mask, 262, 2}));
  EXPECT_EQ(t->encode("<s></s><pad>"), (Ids{0, 0, 2, 1, 2}));
  EXPECT_EQ(t->decode({0, 87, 261, 269, 2}), "<s>the world</s>");
  TokenizerOptions plain;
  plain.add_special_tokens = false;
  const auto u = load_tokenizer(dir("roberta"), plain);
  EXPECT_EQ(u->encode("the world"), (Ids{87, 261, 269}));
  std::mt19937 rng(5);
  for (int i = 0; i < 100; ++i) {
    const std::string s = random_utf8(rng, 30);
    EXPECT_EQ(t->decode(t->encode(s)), "<s>" + s + "</s>");
    EXPECT_EQ(u->decode(u->encode(s)), s);
  }
  // As GPT-2, the same files give no wrapping, and "<s>" is plain text: < 31, s 86, > 33.
  const auto g = load_tokenizer("gpt2:" + dir("roberta"));
  EXPECT_EQ(g->encode("the<s>"), (Ids{87, 261, 31, 86, 33}));
}

TEST_F(Bpe, FactoryChoosesTheKind) {
  EXPECT_EQ(load_tokenizer("byte")->vocab_size(), 256);
  const auto g = load_tokenizer(dir("gpt2"));
  EXPECT_EQ(dynamic_cast<const BpeTokenizer&>(*g).kind(), TokenizerKind::gpt2);
  TokenizerOptions as_roberta;
  as_roberta.kind = TokenizerKind::roberta;
  EXPECT_NE(load_error_with(dir("gpt2"), as_roberta).find("needs a \"<s>\" token"),
            std::string::npos);
  EXPECT_NE(load_error("roberta:" + dir("gpt2")).find("needs a \"<s>\" token"), std::string::npos);
}

TEST_F(Bpe, BadInputNamesTheFileAndLine) {
  const std::string bad = dir("bad");
  const fs::path vocab = root_ / "bad" / "vocab.json", merges = root_ / "bad" / "merges.txt";
  const auto expect_error = [&](const std::string& spec, std::vector<std::string> parts) {
    const std::string what = load_error(spec);
    ASSERT_FALSE(what.empty()) << "loaded " << spec;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    for (const std::string& p : parts) EXPECT_NE(what.find(p), std::string::npos) << what;
  };
  expect_error(bad + "/nowhere", {"nowhere", "expected 'byte' or a directory"});
  expect_error("", {"expected 'byte' or a directory"});
  expect_error(bad, {vocab.string(), "cannot read"});  // empty directory
  write_merges(merges);
  expect_error(bad, {vocab.string(), "cannot read"});
  fs::copy_file(root_ / "gpt2" / "vocab.json", vocab);
  fs::remove(merges);
  expect_error(bad, {merges.string(), "cannot read"});
  write_merges(merges);
  ASSERT_EQ(load_error(bad), "");

  // vocab.json
  write_text(vocab, "{\n  \"a\": 0,\n  \"b\" 1\n}\n");
  expect_error(bad, {vocab.string() + ":3: invalid JSON"});
  write_text(vocab, "[\"a\", \"b\"]");
  expect_error(bad, {vocab.string(), "expected a JSON object"});
  auto entries = vocab_entries(false);
  entries.emplace_back("zz", nullptr);  // on line entries.size() + 1
  write_vocab(vocab, entries);
  expect_error(bad, {vocab.string() + ":" + std::to_string(entries.size() + 1) + ":",
                     "token \"zz\" has no valid id (null"});
  entries.back().second = -5;
  write_vocab(vocab, entries);
  expect_error(bad, {"token \"zz\" has no valid id (-5"});
  entries.back().second = 83;  // t's id
  write_vocab(vocab, entries);
  expect_error(bad, {"\"t\" and \"zz\" share the id 83"});
  entries = vocab_entries(false);
  entries.erase(entries.begin() + ('A' - 33));
  write_vocab(vocab, entries);
  expect_error(bad, {vocab.string(), "no token for the byte 0x41"});

  // merges.txt: line 1 is the #version header, merge r is on line r + 2.
  fs::copy_file(root_ / "gpt2" / "vocab.json", vocab, fs::copy_options::overwrite_existing);
  write_text(merges, "#version: 0.2\nĠ t\nh e x\n");
  expect_error(bad, {merges.string() + ":3:", "expected two symbols", "\"h e x\""});
  write_text(merges, "#version: 0.2\nĠ t\nhe\n");
  expect_error(bad, {merges.string() + ":3:", "expected two symbols"});
  write_text(merges, "#version: 0.2\nĠ t\n\nq zz\n");
  expect_error(bad, {merges.string() + ":4:", "\"zz\" has no id in vocab.json"});
  write_text(merges, "#version: 0.2\nq r\n");
  expect_error(bad, {merges.string() + ":2:", "\"qr\" (the merge of the two) has no id"});
}

TEST_F(Bpe, DecodeRejectsIdsOutsideTheVocabulary) {
  const auto t = load_tokenizer(dir("gpt2"));
  for (std::int32_t bad : {kVocab, -1, 1 << 30}) {
    try {
      t->decode({83, bad});
      FAIL() << "decoded " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("token id " + std::to_string(bad) + " at position 1"),
                std::string::npos)
          << e.what();
    }
    EXPECT_THROW(t->token_text(bad), Error);
  }
}

TEST_F(Bpe, DatasetEncodesTextWithTheTokenizer) {
  const auto t = load_tokenizer(dir("gpt2"));
  std::string text;
  for (int i = 0; i < 50; ++i) text += "the world's 123 hello!!\n";
  const fs::path path = root_ / "data.txt";
  write_text(path, text);
  const Dataset d = Dataset::load(path.string(), kVocab, 0.1, t.get());
  EXPECT_EQ(d.train_tokens() + d.val_tokens(), static_cast<std::int64_t>(t->encode(text).size()));
  EXPECT_LT(d.train_tokens() + d.val_tokens(), static_cast<std::int64_t>(text.size()));
  try {
    Dataset::load(path.string(), 256, 0.1, t.get());
    FAIL() << "a 256-token model accepted a 278-token tokenizer";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs a vocabulary of at least 278, the model has 256"),
              std::string::npos)
        << e.what();
  }
  const Dataset bytes = Dataset::load(path.string(), 256);  // no tokenizer: one token a byte
  EXPECT_EQ(bytes.train_tokens() + bytes.val_tokens(), static_cast<std::int64_t>(text.size()));
}

// Hugging Face's tokenizers on the same vocabulary (scripts/make_golden_bpe.py).
TEST_F(Bpe, MatchesHuggingFaceGolden) {
  const fs::path data = fs::path(CUGPT_SOURCE_DIR) / "tests" / "data" / "bpe";
  if (!fs::exists(data / "golden.json"))
    GTEST_SKIP() << (data / "golden.json").string()
                 << " is absent: run scripts/make_golden_bpe.py where Hugging Face's "
                    "tokenizers is installed";
  json golden;
  std::ifstream(data / "golden.json") >> golden;
  const auto theirs = load_tokenizer(data.string());  // the script's vocab.json + merges.txt
  const auto ours = load_tokenizer(dir("gpt2"));      // this file's
  ASSERT_GE(golden.at("cases").size(), 10u);
  for (const json& c : golden.at("cases")) {
    const std::string text = c.at("text");
    const Ids ids = c.at("ids").get<Ids>();
    EXPECT_EQ(theirs->encode(text), ids) << json(text).dump();
    EXPECT_EQ(ours->encode(text), ids) << "the script's vocabulary differs from this file's";
    EXPECT_EQ(theirs->decode(ids), text);
  }
}

}  // namespace
}  // namespace cugpt
