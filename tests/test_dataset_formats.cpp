// Pre-tokenized training data: nanoGPT's headerless .bin (uint16) and .u32.bin (uint32), and
// llm.c's .bin with its 256-int32 header (magic 20240520, version, token count).
#include <gtest/gtest.h>

#include <fstream>
#include <vector>

#include "kernels/error.h"
#include "tests/temp_dir_test.h"
#include "train/dataset.h"

namespace cugpt {
namespace {

class DatasetFormats : public TempDirTest {
 protected:
  // Little-endian words of `width` bytes, after an llm.c header when `header` is given.
  std::string write(const std::string& name, const std::vector<std::uint32_t>& ids,
                    std::size_t width, const std::vector<std::int32_t>* header = nullptr) {
    std::string bytes;
    const auto put = [&](std::uint32_t v, std::size_t w) {
      for (std::size_t b = 0; b < w; ++b) bytes += static_cast<char>((v >> (8 * b)) & 0xFF);
    };
    if (header) {
      for (int i = 0; i < 256; ++i)
        put(static_cast<std::uint32_t>(i < static_cast<int>(header->size()) ? (*header)[i] : 0), 4);
    }
    for (std::uint32_t id : ids) put(id, width);
    std::ofstream(path(name), std::ios::binary) << bytes;
    return path(name);
  }
  std::string load_error(const std::string& file) {
    try {
      Dataset::load(file, 50257);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  static std::vector<std::uint32_t> ids(int n) {
    std::vector<std::uint32_t> v;
    for (int i = 0; i < n; ++i) v.push_back(static_cast<std::uint32_t>((i * 7919) % 50257));
    return v;
  }
};

TEST_F(DatasetFormats, LlmcFilesReadAsTheirTokens) {
  const std::vector<std::uint32_t> tokens = ids(300);
  const std::vector<std::int32_t> header = {20240520, 1, 300};
  const Dataset llmc = Dataset::load(write("llmc.bin", tokens, 2, &header), 50257);
  const Dataset plain = Dataset::load(write("plain.bin", tokens, 2), 50257);
  EXPECT_EQ(llmc.train_tokens() + llmc.val_tokens(), 300);
  EXPECT_EQ(llmc.train_tokens(), plain.train_tokens());
  std::vector<std::int32_t> a(40), b(40), ta(40), tb(40);
  llmc.train_batch(1, 0, 2, 20, a, ta);
  plain.train_batch(1, 0, 2, 20, b, tb);
  EXPECT_EQ(a, b);
  EXPECT_EQ(ta, tb);
  // Version 2 holds uint32 ids, whatever the extension says.
  const std::vector<std::int32_t> v2 = {20240520, 2, 300};
  EXPECT_EQ(Dataset::load(write("llama.bin", tokens, 4, &v2), 50257).train_tokens(),
            plain.train_tokens());
}

TEST_F(DatasetFormats, ABadLlmcHeaderIsOneLine) {
  const std::vector<std::int32_t> count = {20240520, 1, 299};
  EXPECT_NE(load_error(write("a.bin", ids(300), 2, &count)).find("says 299 tokens"),
            std::string::npos);
  const std::vector<std::int32_t> version = {20240520, 7, 300};
  EXPECT_NE(load_error(write("b.bin", ids(300), 2, &version)).find("of version 7"),
            std::string::npos);
  std::ofstream(path("c.bin"), std::ios::binary) << std::string("\x88\xD8\x34\x01xxxx", 8);
  EXPECT_NE(load_error(path("c.bin")).find("shorter than its 1024-byte header"), std::string::npos);
}

TEST_F(DatasetFormats, NanoGptFilesAreUnchanged) {
  EXPECT_EQ(data_format("x.bin"), DataFormat::u16);
  EXPECT_EQ(data_format("x.u32.bin"), DataFormat::u32);
  const Dataset d = Dataset::load(write("x.u32.bin", ids(100), 4), 50257);
  EXPECT_EQ(d.train_tokens() + d.val_tokens(), 100);
}

}  // namespace
}  // namespace cugpt
