// Tokenizers: text <-> token ids. Three kinds:
// - byte: one token per byte, id = byte value, vocabulary 256; always available, no files.
// - gpt2: GPT-2's byte-level BPE from vocab.json + merges.txt, or encoder.json + vocab.bpe.
// - roberta: the same BPE with RoBERTa's <s> </s> <pad> <mask>; encode wraps in <s> ... </s>.
// For every kind decode(encode(text)) == text for any bytes (RoBERTa adds its two markers).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cugpt {

// What a tokenizer is made of, so that a checkpoint can carry it: its kind and, for BPE, the
// bytes of its two files as they were read. tokenizer_from_files() of these gives the same
// tokenizer back, wherever the files have gone since.
struct TokenizerFiles {
  std::string kind;    // "byte", "gpt2" or "roberta"
  std::string vocab;   // vocab.json (or encoder.json); empty for byte
  std::string merges;  // merges.txt (or vocab.bpe); empty for byte
  std::string source;  // where it came from, for messages ("byte", a directory, a checkpoint)
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  virtual std::vector<std::int32_t> encode(std::string_view text) const = 0;
  // The bytes of the tokens in order. Throws cugpt::Error for an id outside the vocabulary.
  virtual std::string decode(const std::vector<std::int32_t>& ids) const = 0;
  // A short printable label for one token (attention maps, tables): never empty, no control
  // characters. Throws for an id outside the vocabulary.
  virtual std::string token_text(std::int32_t id) const = 0;
  // One more than the largest id.
  virtual std::int64_t vocab_size() const = 0;
  // "byte", "gpt2" or "roberta", with where it came from, for messages.
  virtual std::string name() const = 0;
  virtual TokenizerFiles files() const = 0;
  // The id that ends a text (GPT-2's <|endoftext|>, RoBERTa's </s>), or -1 when there is none.
  virtual std::int32_t end_of_text() const { return -1; }

  // Streaming (text/stream_encoder.h). A text cut at a place last_cut() gives encodes to the
  // ids of the whole: encode(a + b) == encode_part(a, true, false) + encode_part(b, false, true)
  // whenever last_cut(a + p) == a.size() for a prefix p of b.
  // (Nothing to override for a tokenizer that encodes each byte alone.)
  // The ids of a part of a text; `first` and `last` say whether it begins or ends the text (for
  // RoBERTa's <s> and </s>).
  virtual std::vector<std::int32_t> encode_part(std::string_view text, bool first,
                                                bool last) const {
    return encode(text);
  }
  // The largest place c in [max(from, 1), text.size()] where the text seen so far may be cut,
  // whatever bytes follow it; 0 when there is none. A cut here never splits a character.
  // (`from` lets a caller that found no cut in a shorter prefix skip what it already searched.)
  virtual std::size_t last_cut(std::string_view text, std::size_t from = 0) const {
    return text.size();
  }
};

class ByteTokenizer final : public Tokenizer {
 public:
  std::vector<std::int32_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<std::int32_t>& ids) const override;
  // Printable ASCII other than space as itself, every other byte as <0xNN>.
  std::string token_text(std::int32_t id) const override;
  std::int64_t vocab_size() const override { return 256; }
  std::string name() const override { return "byte"; }
  TokenizerFiles files() const override { return {"byte", "", "", "byte"}; }
};

enum class TokenizerKind { automatic, gpt2, roberta };

struct TokenizerOptions {
  // automatic: roberta when vocab.json has a "<s>" token, else gpt2.
  TokenizerKind kind = TokenizerKind::automatic;
  // roberta only: wrap every encoded text in <s> ... </s>.
  bool add_special_tokens = true;
};

// `spec` is "byte", or a directory holding vocab.json and merges.txt (Hugging Face's names) or
// encoder.json and vocab.bpe (OpenAI's original GPT-2 files, the same formats). A directory may be
// prefixed with "gpt2:" or "roberta:" to choose the kind, overriding options.kind. Throws
// cugpt::Error naming the file (and line) for anything missing or malformed.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& spec,
                                          const TokenizerOptions& options = {});

// The tokenizer `files` describe (kind "byte", "gpt2" or "roberta"); messages name
// files.source. Throws cugpt::Error for an unknown kind or malformed files.
std::unique_ptr<Tokenizer> tokenizer_from_files(const TokenizerFiles& files);

}  // namespace cugpt
