// Which tokenizer a command uses. A checkpoint written by `cugpt train` carries its tokenizer
// (train/run_record.h), so a command that loads it needs no --tokenizer:
//   1. --tokenizer SPEC when given: "byte", a folder with vocab.json + merges.txt (or OpenAI's
//      encoder.json + vocab.bpe), or a checkpoint whose recorded tokenizer is taken: a
//      .safetensors file or a `train --out` directory;
//   2. else the tokenizer the weights record;
//   3. else the byte tokenizer, with a note on stderr when the model's vocabulary is larger
//      than the byte tokenizer's (ids above 255 would not decode).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "text/tokenizer.h"

namespace cugpt::tools {

// `given`: whether --tokenizer was on the command line. `weights`: the checkpoint the command
// loads ("" if none); `vocab`: the model's vocabulary (0: unknown). `*recorded` (if not null)
// says whether the tokenizer is the one the weights record (step 2).
std::unique_ptr<Tokenizer> choose_tokenizer(const std::string& spec, bool given,
                                            const std::string& weights = "", std::int64_t vocab = 0,
                                            bool* recorded = nullptr);

// The tokenizer a checkpoint records (a .safetensors file, or a `train --out` directory's
// current model.safetensors), or nullptr when it records none.
std::unique_ptr<Tokenizer> checkpoint_tokenizer(const std::string& path);

}  // namespace cugpt::tools
