#include "text/tokenizer.h"

#include <cstdio>
#include <filesystem>

#include "kernels/error.h"
#include "text/bpe.h"

namespace cugpt {

namespace fs = std::filesystem;

std::vector<std::int32_t> ByteTokenizer::encode(std::string_view text) const {
  std::vector<std::int32_t> ids;
  ids.reserve(text.size());
  for (char c : text) ids.push_back(static_cast<unsigned char>(c));
  return ids;
}

std::string ByteTokenizer::decode(const std::vector<std::int32_t>& ids) const {
  std::string text;
  text.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] > 255)
      throw Error("token id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                  " is not in the vocabulary of the byte tokenizer (0..255)");
    text += static_cast<char>(ids[i]);
  }
  return text;
}

std::string ByteTokenizer::token_text(std::int32_t id) const {
  if (id < 0 || id > 255)
    throw Error("token id " + std::to_string(id) +
                " is not in the vocabulary of the byte tokenizer (0..255)");
  if (id > 0x20 && id < 0x7F) return std::string(1, static_cast<char>(id));
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", id);
  return buf;
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& spec,
                                          const TokenizerOptions& options) {
  if (spec == "byte") return std::make_unique<ByteTokenizer>();
  TokenizerOptions o = options;
  std::string dir = spec;
  for (const auto& [prefix, kind] :
       {std::make_pair(std::string("gpt2:"), TokenizerKind::gpt2),
        std::make_pair(std::string("roberta:"), TokenizerKind::roberta)}) {
    if (dir.compare(0, prefix.size(), prefix) == 0) {
      dir = dir.substr(prefix.size());
      o.kind = kind;
      break;
    }
  }
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec))
    throw Error("tokenizer '" + spec +
                "': expected 'byte' or a directory holding vocab.json and merges.txt (or "
                "OpenAI's encoder.json and vocab.bpe)");
  const fs::path root(dir);
  const auto has = [&](const char* name) { return fs::is_regular_file(root / name, ec); };
  // Hugging Face's names, else OpenAI's originals for GPT-2 (the same two formats: a JSON map of
  // token to id, and merges one pair a line after a "#version" line).
  for (const auto& [vocab, merges] :
       {std::make_pair("vocab.json", "merges.txt"), std::make_pair("encoder.json", "vocab.bpe")})
    if (has(vocab) && has(merges))
      return std::make_unique<BpeTokenizer>((root / vocab).string(), (root / merges).string(), o);
  // Incomplete: the pair it has a file of (Hugging Face's when none), whose missing file the
  // tokenizer then names.
  const bool openai =
      (has("encoder.json") || has("vocab.bpe")) && !has("vocab.json") && !has("merges.txt");
  return std::make_unique<BpeTokenizer>((root / (openai ? "encoder.json" : "vocab.json")).string(),
                                        (root / (openai ? "vocab.bpe" : "merges.txt")).string(), o);
}

std::unique_ptr<Tokenizer> tokenizer_from_files(const TokenizerFiles& files) {
  if (files.kind == "byte") return std::make_unique<ByteTokenizer>();
  TokenizerOptions o;
  if (files.kind == "gpt2")
    o.kind = TokenizerKind::gpt2;
  else if (files.kind == "roberta")
    o.kind = TokenizerKind::roberta;
  else
    throw Error(files.source + ": unknown tokenizer kind '" + files.kind.substr(0, 40) +
                "' (expected byte, gpt2 or roberta)");
  return std::make_unique<BpeTokenizer>(files, o);
}

}  // namespace cugpt
