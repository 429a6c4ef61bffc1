#include "train/token_writer.h"

#include "io/printable.h"
#include "kernels/error.h"
#include "train/dataset.h"

namespace cugpt {

namespace {

constexpr std::uint32_t kLlmcMagic = 20240520;
constexpr std::size_t kLlmcHeaderWords = 256;
// llm.c's header holds the count as an int32.
constexpr std::uint64_t kLlmcMaxCount = 0x7fffffffu;

void put_word(unsigned char* at, std::uint32_t v) {
  for (int b = 0; b < 4; ++b) at[b] = static_cast<unsigned char>(v >> (8 * b));
}

// The width before the file is created: a refusal leaves nothing behind.
int checked_width(const std::string& path, std::int64_t vocab) {
  const DataFormat f = data_format(path);
  if (f == DataFormat::text)
    throw Error("tokenize: --out '" + printable(path) +
                "': the ids go to a .bin (uint16), .u32.bin or .bin32 (uint32) file, the names "
                "train --data reads as ids");
  const int width = f == DataFormat::u32 ? 4 : 2;
  if (width == 2 && vocab > 65536)
    throw Error("tokenize: --out '" + printable(path) + "': a vocabulary of " +
                std::to_string(vocab) + " ids does not fit uint16: name it .u32.bin");
  return width;
}

}  // namespace

TokenFileFormat parse_token_file_format(const std::string& name) {
  if (name == "llmc") return TokenFileFormat::llmc;
  if (name == "raw") return TokenFileFormat::raw;
  throw Error("--format: '" + printable(name) + "' is not llmc or raw");
}

TokenFileWriter::TokenFileWriter(const std::string& path, TokenFileFormat format,
                                 std::int64_t vocab)
    : format_(format), width_(checked_width(path, vocab)), file_(path) {
  if (format_ == TokenFileFormat::llmc) {
    unsigned char header[kLlmcHeaderWords * 4] = {};
    put_word(header, kLlmcMagic);
    put_word(header + 4, width_ == 2 ? 1 : 2);  // the count goes in at commit()
    file_.write(header, sizeof header);
  }
}

void TokenFileWriter::write(const std::vector<std::int32_t>& ids) {
  if (format_ == TokenFileFormat::llmc && count_ + ids.size() > kLlmcMaxCount)
    throw Error("tokenize: --out '" + printable(file_.path()) + "': more than the " +
                std::to_string(kLlmcMaxCount) +
                " ids an llm.c header counts (--format raw has no count)");
  bytes_.resize(ids.size() * static_cast<std::size_t>(width_));
  unsigned char* p = bytes_.data();
  for (std::int32_t id : ids) {
    const auto v = static_cast<std::uint32_t>(id);
    for (int b = 0; b < width_; ++b) *p++ = static_cast<unsigned char>(v >> (8 * b));
  }
  file_.write(bytes_.data(), bytes_.size());
  count_ += ids.size();
}

void TokenFileWriter::commit() {
  if (format_ == TokenFileFormat::llmc) {
    unsigned char count[4];
    put_word(count, static_cast<std::uint32_t>(count_));
    file_.write_at(8, count, sizeof count);
  }
  file_.commit();
}

}  // namespace cugpt
