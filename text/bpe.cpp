#include "text/bpe.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "kernels/error.h"
#include "text/pretokenize.h"
#include "text/unicode.h"

namespace cugpt {

using nlohmann::json;

namespace {

// An id above this is surely a corrupt file (GPT-2 has 50,257 tokens); it would size tables.
constexpr std::int64_t kMaxId = (1 << 24) - 1;

// Bytes that are printable Latin-1 ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the
// other 68 (controls, space, DEL, NBSP, soft hyphen) take U+0100, U+0101, ... in byte order.
const std::array<std::uint32_t, 256>& byte_table() {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    std::uint32_t next = 256;
    for (std::uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      t[b] = printable ? b : next++;
    }
    return t;
  }();
  return table;
}

// The byte a code point of the bytes_to_unicode alphabet stands for, or -1.
int code_point_to_byte(std::uint32_t cp) {
  static const std::array<int, 324> inverse = [] {
    std::array<int, 324> t;
    t.fill(-1);
    for (int b = 0; b < 256; ++b) t[byte_table()[b]] = b;
    return t;
  }();
  return cp < inverse.size() ? inverse[cp] : -1;
}

// Tokenizer files are a few MiB (GPT-2's vocab.json is 1 MiB); a larger one is not read.
constexpr std::int64_t kMaxTokenizerFileBytes = 64 << 20;

std::string read_file(const std::string& path, const char* what) {
  // A regular file, checked without blocking before the read: a FIFO would hang the open, and
  // a link to /dev/zero would grow the string without bound.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  struct stat st {};
  const bool opened = fd >= 0 && ::fstat(fd, &st) == 0;
  if (fd >= 0) ::close(fd);
  if (!opened)
    throw Error(path + ": cannot read " + what +
                " (a BPE tokenizer directory holds vocab.json and merges.txt, or OpenAI's "
                "encoder.json and vocab.bpe)");
  if (!S_ISREG(st.st_mode)) throw Error(path + ": " + what + " is not a regular file");
  if (st.st_size > kMaxTokenizerFileBytes)
    throw Error(path + ": " + what + " is larger than the 64 MiB a tokenizer file may be");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot read " + what);
  std::string out(static_cast<std::size_t>(st.st_size), '\0');
  in.read(out.data(), st.st_size);
  out.resize(static_cast<std::size_t>(in.gcount()));
  return out;
}

std::size_t line_at(const std::string& text, std::size_t byte) {
  return 1 + static_cast<std::size_t>(
                 std::count(text.begin(), text.begin() + std::min(byte, text.size()), '\n'));
}

// "path:line" for the entry `key` of vocab.json, found by searching the raw text for the key as
// nlohmann writes it (raw UTF-8 or \u escapes, which is what vocab.json files use); "path" when
// it is not found that way.
std::string where_key(const std::string& path, const std::string& text, const std::string& key) {
  for (const bool ascii : {false, true}) {
    const std::string quoted = json(key).dump(-1, ' ', ascii) + ":";
    for (const std::string& q : {quoted, quoted.substr(0, quoted.size() - 1) + " :"}) {
      const std::size_t at = text.find(q);
      if (at != std::string::npos) return path + ":" + std::to_string(line_at(text, at));
    }
  }
  return path;
}

// Control characters and bytes outside valid UTF-8 as <0xNN>, everything else as it is.
std::string printable(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    std::uint32_t cp = 0;
    const std::size_t n = utf8_decode(s, i, cp);
    if (cp == kInvalidCodePoint || cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) {
      for (std::size_t k = 0; k < n; ++k) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", static_cast<unsigned char>(s[i + k]));
        out += buf;
      }
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out.empty() ? "<empty>" : out;
}

std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) |
         static_cast<std::uint32_t>(b);
}

}  // namespace

std::uint32_t gpt2_byte_to_code_point(unsigned char b) {
  return byte_table()[b];
}

BpeTokenizer::BpeTokenizer(const std::string& vocab_path, const std::string& merges_path,
                           const TokenizerOptions& options)
    : kind_(options.kind), add_special_tokens_(options.add_special_tokens), source_(vocab_path) {
  const std::size_t slash = source_.find_last_of('/');
  source_ = slash == std::string::npos ? "." : source_.substr(0, slash);
  vocab_text_ = read_file(vocab_path, "the vocabulary");
  merges_text_ = read_file(merges_path, "the merges");
  load_vocab(vocab_text_, vocab_path);
  load_merges(merges_text_, merges_path);
}

BpeTokenizer::BpeTokenizer(TokenizerFiles files, const TokenizerOptions& options)
    : kind_(options.kind),
      add_special_tokens_(options.add_special_tokens),
      source_(std::move(files.source)),
      vocab_text_(std::move(files.vocab)),
      merges_text_(std::move(files.merges)) {
  if (vocab_text_.size() > static_cast<std::size_t>(kMaxTokenizerFileBytes) ||
      merges_text_.size() > static_cast<std::size_t>(kMaxTokenizerFileBytes))
    throw Error(source_ + ": a tokenizer file is larger than the 64 MiB a tokenizer file may be");
  load_vocab(vocab_text_, source_ + "/vocab.json");
  load_merges(merges_text_, source_ + "/merges.txt");
}

TokenizerFiles BpeTokenizer::files() const {
  return {kind_ == TokenizerKind::roberta ? "roberta" : "gpt2", vocab_text_, merges_text_, source_};
}

std::int32_t BpeTokenizer::end_of_text() const {
  return kind_ == TokenizerKind::roberta ? specials_.eos : specials_.end_of_text;
}

void BpeTokenizer::load_vocab(const std::string& text, const std::string& path) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    what = what.substr(what.find(' ') + 1);  // drop "[json.exception.parse_error.101]"
    throw Error(path + ":" + std::to_string(line_at(text, e.byte > 0 ? e.byte - 1 : 0)) +
                ": invalid JSON (" + what + ")");
  }
  if (!j.is_object()) throw Error(path + ": expected a JSON object mapping each token to its id");
  if (j.empty()) throw Error(path + ": the vocabulary is empty");
  std::int64_t max_id = -1;
  for (const auto& [token, value] : j.items()) {
    if (!value.is_number_integer() || value.get<std::int64_t>() < 0 ||
        value.get<std::int64_t>() > kMaxId)
      throw Error(where_key(path, text, token) + ": token " + json(token).dump() +
                  " has no valid id (" + value.dump() + "; ids are integers in [0, " +
                  std::to_string(kMaxId) + "])");
    max_id = std::max(max_id, value.get<std::int64_t>());
  }
  // Ids index a table: bounded by the entries before it is allocated, so one token with id
  // 16,777,215 cannot cost a gigabyte.
  constexpr std::int64_t kMaxUnusedIds = 1024;
  if (max_id >= static_cast<std::int64_t>(j.size()) + kMaxUnusedIds)
    throw Error(path + ": the ids run to " + std::to_string(max_id) + " but only " +
                std::to_string(j.size()) + " tokens are listed (at most " +
                std::to_string(kMaxUnusedIds) + " ids may be unused)");
  tokens_.assign(static_cast<std::size_t>(max_id + 1), std::string());
  used_.assign(tokens_.size(), false);
  for (const auto& [token, value] : j.items()) {
    const auto id = value.get<std::int32_t>();
    if (used_[id])
      throw Error(where_key(path, text, token) + ": tokens " + json(tokens_[id]).dump() + " and " +
                  json(token).dump() + " share the id " + std::to_string(id));
    used_[id] = true;
    tokens_[id] = token;
    ids_.emplace(token, id);
  }

  if (kind_ == TokenizerKind::automatic)
    kind_ = find("<s>") >= 0 ? TokenizerKind::roberta : TokenizerKind::gpt2;
  std::vector<std::string> specials;
  for (const auto& [token, id] : ids_)
    if (token.size() >= 5 && token.compare(0, 2, "<|") == 0 &&
        token.compare(token.size() - 2, 2, "|>") == 0)
      specials.push_back(token);
  specials_.end_of_text = find("<|endoftext|>");
  if (kind_ == TokenizerKind::roberta) {
    const std::pair<const char*, std::int32_t*> named[] = {{"<s>", &specials_.bos},
                                                           {"</s>", &specials_.eos},
                                                           {"<pad>", &specials_.pad},
                                                           {"<mask>", &specials_.mask},
                                                           {"<unk>", &specials_.unk}};
    for (const auto& [token, slot] : named) {
      *slot = find(token);
      if (*slot < 0 && std::string(token) != "<unk>")
        throw Error(path + ": the roberta tokenizer needs a \"" + token +
                    "\" token and this vocabulary has none");
      if (*slot >= 0) specials.push_back(token);
    }
  }
  for (const std::string& s : specials) special_list_.emplace_back(s, ids_.at(s));
  std::sort(special_list_.begin(), special_list_.end(), [](const auto& a, const auto& b) {
    return a.first.size() != b.first.size() ? a.first.size() > b.first.size() : a < b;
  });

  for (int b = 0; b < 256; ++b) {
    std::string ch;
    utf8_append(gpt2_byte_to_code_point(static_cast<unsigned char>(b)), ch);
    byte_ids_[b] = find(ch);
    if (byte_ids_[b] < 0) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", b);
      throw Error(path + ": no token for the byte " + hex + " (" + json(ch).dump() +
                  "); a byte-level BPE vocabulary holds all 256 bytes");
    }
  }
  // What each token decodes to. A token with a character outside the bytes_to_unicode alphabet
  // (an added word, say) decodes to its own UTF-8 text.
  bytes_.assign(tokens_.size(), std::string());
  for (std::size_t id = 0; id < tokens_.size(); ++id) {
    const std::string& t = tokens_[id];
    bool mapped = true;
    std::string out;
    for (std::size_t i = 0; i < t.size() && mapped;) {
      std::uint32_t cp = 0;
      i += utf8_decode(t, i, cp);
      const int b = code_point_to_byte(cp);
      mapped = b >= 0;
      out += static_cast<char>(b);
    }
    bytes_[id] = mapped ? out : t;
  }
  for (const auto& [token, id] : special_list_) bytes_[id] = token;
}

void BpeTokenizer::load_merges(const std::string& text, const std::string& path) {
  std::istringstream in(text);
  std::string line;
  std::int32_t rank = 0;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.compare(0, 8, "#version") == 0) continue;
    const std::string where = path + ":" + std::to_string(number);
    const std::size_t space = line.find(' ');
    if (space == 0 || space == std::string::npos || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string::npos)
      throw Error(where + ": expected two symbols separated by one space, got " +
                  json(line).dump(-1, ' ', false, json::error_handler_t::replace));
    const std::string a = line.substr(0, space), b = line.substr(space + 1);
    for (const std::string& s : {a, b, a + b})
      if (find(s) < 0)
        throw Error(where + ": " + json(s).dump(-1, ' ', false, json::error_handler_t::replace) +
                    (s.size() == a.size() + b.size() ? " (the merge of the two)" : "") +
                    " has no id in vocab.json");
    merges_.emplace(pair_key(find(a), find(b)), std::make_pair(rank++, find(a + b)));
  }
}

std::int32_t BpeTokenizer::find(const std::string& token) const {
  const auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

std::string BpeTokenizer::name() const {
  return std::string(kind_ == TokenizerKind::roberta ? "roberta" : "gpt2") + " BPE (" +
         std::to_string(vocab_size()) + " tokens, " + source_ + ")";
}

void BpeTokenizer::encode_piece(std::string_view piece, std::vector<std::int32_t>& out) const {
  std::vector<std::int32_t> symbols, next;
  symbols.reserve(piece.size());
  for (char c : piece) symbols.push_back(byte_ids_[static_cast<unsigned char>(c)]);
  while (symbols.size() > 1) {
    // The pair that merges.txt lists first; then every occurrence of it, left to right.
    std::int32_t best = INT32_MAX, merged = -1, left = -1, right = -1;
    for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto it = merges_.find(pair_key(symbols[i], symbols[i + 1]));
      if (it != merges_.end() && it->second.first < best) {
        best = it->second.first;
        merged = it->second.second;
        left = symbols[i];
        right = symbols[i + 1];
      }
    }
    if (merged < 0) break;
    next.clear();
    for (std::size_t i = 0; i < symbols.size(); ++i) {
      if (i + 1 < symbols.size() && symbols[i] == left && symbols[i + 1] == right) {
        next.push_back(merged);
        ++i;
      } else {
        next.push_back(symbols[i]);
      }
    }
    symbols.swap(next);
  }
  out.insert(out.end(), symbols.begin(), symbols.end());
}

void BpeTokenizer::encode_ordinary(std::string_view text, std::vector<std::int32_t>& out) const {
  // Natural text repeats its words: each distinct piece is merged once per call.
  std::unordered_map<std::string_view, std::pair<std::size_t, std::size_t>> seen;
  gpt2_pretokenize(text, [&](const Piece& p) {
    const std::string_view piece = text.substr(p.begin, p.size);
    const auto it = seen.find(piece);
    if (it != seen.end()) {
      const std::size_t from = it->second.first, count = it->second.second;
      for (std::size_t k = 0; k < count; ++k) {
        const std::int32_t id = out[from + k];
        out.push_back(id);
      }
      return;
    }
    const std::size_t from = out.size();
    encode_piece(piece, out);
    seen.emplace(piece, std::make_pair(from, out.size() - from));
  });
}

std::vector<std::int32_t> BpeTokenizer::encode_part(std::string_view text, bool first,
                                                    bool last) const {
  std::vector<std::int32_t> out;
  const bool wrap = kind_ == TokenizerKind::roberta && add_special_tokens_;
  if (wrap && first) out.push_back(specials_.bos);
  // Cut the text at special tokens (the earliest match; the longest at the same place).
  std::vector<std::size_t> next;
  for (const auto& special : special_list_) next.push_back(text.find(special.first));
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t at = std::string_view::npos, which = 0;
    for (std::size_t k = 0; k < special_list_.size(); ++k) {
      if (next[k] != std::string_view::npos && next[k] < pos)
        next[k] = text.find(special_list_[k].first, pos);
      if (next[k] < at) at = next[k], which = k;
    }
    encode_ordinary(text.substr(pos, at == std::string_view::npos ? at : at - pos), out);
    if (at == std::string_view::npos) break;
    out.push_back(special_list_[which].second);
    pos = at + special_list_[which].first.size();
  }
  if (wrap && last) out.push_back(specials_.eos);
  return out;
}

std::size_t BpeTokenizer::last_cut(std::string_view text, std::size_t from) const {
  // Why a cut at c (text[c - 1] an ASCII non-space, text[c] ASCII whitespace) gives the ids of
  // the whole: the piece holding text[c - 1] is a contraction or ` ?X+` run, which never holds
  // whitespace after its first byte, so a piece starts at c; pieces before c look at text[c] only
  // to find it is not a letter, number or other character, or not the 'e' or 'l' of a
  // contraction, and the end of the text answers the same; `\s+(?!\S)` runs end before
  // c - 1. ASCII bytes never occur inside a multi-byte character. Special tokens are matched
  // before pre-tokenization, so no occurrence (or possible start of one) may cover the cut.
  const auto ascii_class = [](char ch) {
    return char_class(static_cast<std::uint32_t>(static_cast<unsigned char>(ch)));
  };
  for (std::size_t c = text.size(); c-- > std::max<std::size_t>(from, 1);) {
    const auto a = static_cast<unsigned char>(text[c - 1]), b = static_cast<unsigned char>(text[c]);
    if (a >= 0x80 || b >= 0x80 || ascii_class(text[c - 1]) == CharClass::space ||
        ascii_class(text[c]) != CharClass::space)
      continue;
    bool covered = false;
    for (const auto& [special, id] : special_list_) {
      const std::size_t L = special.size();
      for (std::size_t s = c >= L ? c - L + 1 : 0; s < c && !covered; ++s)
        covered = text.substr(s, L) == std::string_view(special).substr(0, text.size() - s);
      if (covered) break;
    }
    if (!covered) return c;
  }
  return 0;
}

std::string BpeTokenizer::decode(const std::vector<std::int32_t>& ids) const {
  std::string out;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::int32_t id = ids[i];
    if (id < 0 || id >= vocab_size() || !used_[id])
      throw Error("token id " + std::to_string(id) + " at position " + std::to_string(i) +
                  " is not in the vocabulary of the " + name() + " tokenizer");
    out += bytes_[id];
  }
  return out;
}

std::string BpeTokenizer::token_text(std::int32_t id) const {
  if (id < 0 || id >= vocab_size() || !used_[id])
    throw Error("token id " + std::to_string(id) + " is not in the vocabulary of the " + name() +
                " tokenizer");
  return printable(tokens_[id]);
}

}  // namespace cugpt
