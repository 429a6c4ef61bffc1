// Encoding a text of any length in bounded memory: bytes are fed in pieces as they are read, and
// the ids of what is complete come out as soon as the tokenizer can cut the text there
// (Tokenizer::last_cut: a place no pre-tokenizer piece, special token or character spans).
// The ids are exactly those of encoding the whole text at once. What is held is the text since
// the last cut; `max_held` bounds it, so a text with no place to cut (a megabyte of letters,
// /dev/zero through a pipe) is an error instead of a buffer without end.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "text/tokenizer.h"

namespace cugpt {

class StreamEncoder {
 public:
  using Emit = std::function<void(const std::vector<std::int32_t>&)>;

  static constexpr std::size_t kMinPart = 64 << 10;

  // `what` names the input in messages ("tokenize: --file 'x'"), `raise` says how to lift
  // max_held ("raise --max-bytes"). A part is encoded once
  // `min_part` bytes wait: fewer, larger parts (the BPE caches a part's repeated words); tests
  // take small ones, to cut in many places.
  StreamEncoder(const Tokenizer& tok, std::uint64_t max_held, std::string what, Emit emit,
                std::size_t min_part = kMinPart, std::string raise = "");

  // Appends bytes; emits the ids of the text up to the last place it can be cut, once at least
  // min_part bytes wait.
  void feed(std::string_view bytes);
  // The ids of what is left (and RoBERTa's </s>). Feed nothing after it.
  void finish();

  std::uint64_t bytes() const { return bytes_; }
  std::uint64_t ids() const { return ids_; }
  // The most text held at once so far.
  std::uint64_t peak_held() const { return peak_held_; }

 private:
  void emit_part(std::size_t cut, bool last);

  const Tokenizer& tok_;
  std::uint64_t max_held_;
  std::size_t min_part_;
  std::string what_, raise_;
  Emit emit_;
  std::string held_;
  std::size_t searched_ = 0;  // no cut in held_ before this (less a margin for special tokens)
  bool first_ = true, finished_ = false;
  std::uint64_t bytes_ = 0, ids_ = 0, peak_held_ = 0;
};

}  // namespace cugpt
