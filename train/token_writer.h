// Token ids written as `train --data` reads them (train/dataset.h), piece by piece, so that a
// corpus of any size is tokenized in bounded memory: nanoGPT's headerless little-endian ids, or
// llm.c's .bin (a 1024-byte header: magic 20240520, version 1 for uint16 or 2 for uint32, the
// count; then the ids). The width comes from the extension as the reader takes it: .bin holds
// uint16, .u32.bin and .bin32 uint32. Written through AtomicFile: the path only ever holds a
// whole file, and an existing one is replaced as every cugpt output is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/atomic_file.h"

namespace cugpt {

enum class TokenFileFormat { llmc, raw };

// "llmc" or "raw"; anything else is a one-line error.
TokenFileFormat parse_token_file_format(const std::string& name);

class TokenFileWriter {
 public:
  // Refuses, before a byte is written, a path whose extension is not one the reader takes as
  // ids, and a vocabulary (`vocab` ids) that the width cannot hold.
  TokenFileWriter(const std::string& path, TokenFileFormat format, std::int64_t vocab);
  void write(const std::vector<std::int32_t>& ids);
  // Fills in llm.c's count, then fsyncs and renames into place.
  void commit();

  std::uint64_t count() const { return count_; }
  int width() const { return width_; }

 private:
  // In this order: the width is checked before the file is created.
  TokenFileFormat format_;
  int width_ = 2;
  AtomicFile file_;
  std::uint64_t count_ = 0;
  std::vector<unsigned char> bytes_;  // one piece's ids, little-endian
};

}  // namespace cugpt
