// The tokenizer folder formats: Hugging Face's vocab.json + merges.txt and OpenAI's original
// encoder.json + vocab.bpe encode alike; an incomplete folder names the file it lacks.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "kernels/error.h"
#include "tests/temp_dir_test.h"
#include "text/tokenizer.h"

namespace cugpt {
namespace {

namespace fs = std::filesystem;
const fs::path kBpe = fs::path(CUGPT_SOURCE_DIR) / "tests" / "data" / "bpe";

class TokenizerFolders : public TempDirTest {
 protected:
  std::string load_error(const std::string& spec) {
    try {
      load_tokenizer(spec);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
};

TEST_F(TokenizerFolders, OpenAiNamesEncodeAsHuggingFaceNames) {
  fs::copy_file(kBpe / "vocab.json", path("encoder.json"));
  fs::copy_file(kBpe / "merges.txt", path("vocab.bpe"));
  const auto hf = load_tokenizer(kBpe.string());
  const auto openai = load_tokenizer(dir_.string());
  nlohmann::json golden;
  std::ifstream(kBpe / "golden.json") >> golden;
  ASSERT_GE(golden.at("cases").size(), 10u);
  for (const auto& c : golden.at("cases")) {
    const std::string text = c.at("text").get<std::string>();
    EXPECT_EQ(openai->encode(text), c.at("ids").get<std::vector<std::int32_t>>()) << text;
    EXPECT_EQ(openai->encode(text), hf->encode(text)) << text;
  }
  EXPECT_EQ(openai->vocab_size(), hf->vocab_size());
}

TEST_F(TokenizerFolders, AnIncompleteFolderNamesWhatItLacks) {
  fs::copy_file(kBpe / "vocab.json", path("encoder.json"));
  const std::string what = load_error(dir_.string());
  EXPECT_NE(what.find(path("vocab.bpe")), std::string::npos) << what;
  EXPECT_NE(what.find("encoder.json and vocab.bpe"), std::string::npos) << what;
  fs::remove(path("encoder.json"));
  EXPECT_NE(load_error(dir_.string()).find(path("vocab.json")), std::string::npos);
}

TEST_F(TokenizerFolders, EmptyTextEncodesToNothing) {
  EXPECT_TRUE(load_tokenizer(kBpe.string())->encode("").empty());
  EXPECT_TRUE(load_tokenizer("byte")->encode("").empty());
  EXPECT_EQ(load_tokenizer("byte")->decode({}), "");
}

}  // namespace
}  // namespace cugpt
