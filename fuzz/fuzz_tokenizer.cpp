// libFuzzer target: the tokenizers. The first byte picks the check (fuzz/checks.h): byte-level
// round trip, GPT-2 BPE or RoBERTa BPE round trip with a small vocabulary and merges written at
// startup, or decoding the rest of the input as random token ids.
#include <cstddef>
#include <cstdint>

#include "fuzz/checks.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cugpt::fuzz::micro_tokenizers();  // write and load the vocabularies once, before the first run
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cugpt::fuzz::check_tokenizers(data, size);
  return 0;
}
