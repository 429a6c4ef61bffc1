// GPT-2's pre-tokenization, which cuts text into the pieces that BPE merges within. GPT-2 (and
// RoBERTa, and Hugging Face's ByteLevel pre-tokenizer) use the regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// applied left to right, first alternative that matches wins. It is written out by hand here
// over UTF-8 with the classes of text/unicode.h, so no Unicode regex engine is needed.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>
#include <vector>

namespace cugpt {

struct Piece {
  std::size_t begin = 0, size = 0;  // bytes of the input
};

// Calls `emit` with the pieces of `text` in order; they cover every byte exactly once. A byte
// that is not part of valid UTF-8 counts as one character of the punctuation class, so any
// input splits. Streams: memory does not grow with the text.
void gpt2_pretokenize(std::string_view text, const std::function<void(const Piece&)>& emit);

// The same pieces as a vector.
std::vector<Piece> gpt2_pretokenize(std::string_view text);

}  // namespace cugpt
