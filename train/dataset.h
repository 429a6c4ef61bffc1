// Training data: a token stream from UTF-8 text (tokenized by a Tokenizer: one token per byte by
// default, or GPT-2's BPE) or from a pre-tokenized .bin of little-endian uint16 or uint32 ids
// (nanoGPT's format, no header), or llm.c's .bin (a 1024-byte header starting with the magic
// 20240520, then uint16 ids for version 1, uint32 for version 2), told apart by that magic.
// The last `val_fraction` of the stream is held out for validation. Batches are drawn at
// offsets that depend only on (seed, step, row), so a resumed run sees the same data as an
// uninterrupted one without saving any reader state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "text/tokenizer.h"

namespace cugpt {

enum class DataFormat { text, u16, u32 };

// .bin is uint16 (nanoGPT), .u32.bin or .bin32 uint32, anything else text.
DataFormat data_format(const std::string& path);

class Dataset {
 public:
  // The format comes from the extension (see data_format). Text is encoded by `tokenizer` (the
  // byte tokenizer when null), whose vocabulary must fit in the model's. Every id must be below
  // `vocab`.
  static Dataset load(const std::string& path, std::int64_t vocab, double val_fraction = 0.1,
                      const Tokenizer* tokenizer = nullptr);
  static Dataset from_tokens(std::vector<std::int32_t> tokens, std::int64_t vocab,
                             double val_fraction = 0.1);

  // Inputs (B*T) and next-token targets (B*T) for one micro-batch of the training split: rows
  // [first_row, first_row + B) of the step's batch (a data-parallel rank's slice).
  void train_batch(std::uint64_t seed, std::int64_t step, std::int64_t B, std::int64_t T,
                   std::vector<std::int32_t>& inputs, std::vector<std::int32_t>& targets,
                   std::int64_t first_row = 0) const;
  // The i-th deterministic batch of the validation split.
  void val_batch(std::int64_t index, std::int64_t B, std::int64_t T,
                 std::vector<std::int32_t>& inputs, std::vector<std::int32_t>& targets) const;

  // Before any training step: the training split must hold one sequence of T inputs and its
  // targets (T + 1 tokens), and, when `validation` (evaluation was asked for), the validation
  // split too; otherwise a one-line Error naming `path`. No run trains and then fails on data.
  void require_sequence(const std::string& path, std::int64_t T, bool validation) const;

  std::int64_t train_tokens() const { return split_; }
  std::int64_t val_tokens() const { return static_cast<std::int64_t>(tokens_.size()) - split_; }

 private:
  std::vector<std::int32_t> tokens_;
  std::int64_t split_ = 0;  // [0, split) train, [split, end) validation
};

}  // namespace cugpt
