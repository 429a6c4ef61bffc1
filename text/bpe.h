// GPT-2's byte-level BPE (also RoBERTa's). Text is split by GPT-2's pre-tokenizer
// (text/pretokenize.h); each piece's bytes become the characters of GPT-2's bytes_to_unicode
// table (printable Latin-1 stays itself, the other 68 bytes move to U+0100.., so a space is 'Ġ'
// and a newline 'Ċ'), start as one symbol per byte, and are merged pair by pair, always the
// adjacent pair whose merge comes first in merges.txt, until no listed pair is left.
// Special tokens are matched as whole strings in the text before any of this.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/tokenizer.h"

namespace cugpt {

// GPT-2's bytes_to_unicode: the code point that stands for byte b in vocab.json and merges.txt.
std::uint32_t gpt2_byte_to_code_point(unsigned char b);

class BpeTokenizer final : public Tokenizer {
 public:
  // Special tokens, -1 where vocab.json has none.
  struct Specials {
    std::int32_t bos = -1, eos = -1, pad = -1, mask = -1, unk = -1;  // roberta's
    std::int32_t end_of_text = -1;                                   // GPT-2's <|endoftext|>
  };

  // Reads the two files; options.kind automatic becomes roberta when vocab.json has "<s>".
  // Special tokens are every vocab.json entry of the form <|...|> and, for roberta, <s> </s>
  // <pad> <mask> <unk>; roberta needs the first four.
  BpeTokenizer(const std::string& vocab_path, const std::string& merges_path,
               const TokenizerOptions& options = {});
  // The same from the files' bytes (files.kind is ignored: options.kind decides); messages name
  // files.source + "/vocab.json" and "/merges.txt".
  BpeTokenizer(TokenizerFiles files, const TokenizerOptions& options);

  std::vector<std::int32_t> encode(std::string_view text) const override {
    return encode_part(text, true, true);
  }
  std::vector<std::int32_t> encode_part(std::string_view text, bool first,
                                        bool last) const override;
  // After a non-space ASCII character followed by ASCII whitespace (a place every alternative
  // of GPT-2's pre-tokenizer ends at and none looks across), not inside a special token.
  std::size_t last_cut(std::string_view text, std::size_t from = 0) const override;
  std::string decode(const std::vector<std::int32_t>& ids) const override;
  // The token as vocab.json writes it ("Ġthe", "<|endoftext|>"), with characters outside
  // printable text shown as <0xNN>.
  std::string token_text(std::int32_t id) const override;
  std::int64_t vocab_size() const override { return static_cast<std::int64_t>(tokens_.size()); }
  std::string name() const override;
  TokenizerFiles files() const override;
  // GPT-2's <|endoftext|>; RoBERTa's </s>.
  std::int32_t end_of_text() const override;

  // gpt2 or roberta.
  TokenizerKind kind() const { return kind_; }
  const Specials& specials() const { return specials_; }
  // The id of a token as vocab.json writes it, or -1.
  std::int32_t find(const std::string& token) const;

 private:
  void load_vocab(const std::string& text, const std::string& path);
  void load_merges(const std::string& text, const std::string& path);
  void encode_piece(std::string_view piece, std::vector<std::int32_t>& out) const;
  void encode_ordinary(std::string_view text, std::vector<std::int32_t>& out) const;

  TokenizerKind kind_;
  bool add_special_tokens_;
  std::string source_;
  std::string vocab_text_, merges_text_;               // as read: what files() gives a checkpoint
  std::unordered_map<std::string, std::int32_t> ids_;  // vocab.json
  std::vector<std::string> tokens_;                    // id -> token ("" for an unused id)
  std::vector<std::string> bytes_;                     // id -> the bytes it decodes to
  std::vector<bool> used_;                             // id -> present in vocab.json
  std::int32_t byte_ids_[256] = {};
  // (left id << 32 | right id) -> (rank, merged id)
  std::unordered_map<std::uint64_t, std::pair<std::int32_t, std::int32_t>> merges_;
  std::vector<std::pair<std::string, std::int32_t>> special_list_;  // longest first
  Specials specials_;
};

}  // namespace cugpt
