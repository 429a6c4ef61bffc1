#include "tools/tokenizer_choice.h"

#include <cstdio>
#include <filesystem>

#include "io/checkpoint_dir.h"
#include "io/printable.h"
#include "io/safetensors.h"
#include "train/run_record.h"

namespace cugpt::tools {

namespace fs = std::filesystem;

std::unique_ptr<Tokenizer> checkpoint_tokenizer(const std::string& path) {
  std::error_code ec;
  std::string file = path;
  if (fs::is_directory(path, ec)) {
    const CheckpointManifest m = read_checkpoint_manifest(path);
    file = path + "/" + m.directory + "/model.safetensors";
  }
  const SafetensorsFile f = SafetensorsFile::open(file);
  return recorded_tokenizer(f.metadata(), printable(file) + " [recorded]");
}

std::unique_ptr<Tokenizer> choose_tokenizer(const std::string& spec, bool given,
                                            const std::string& weights, std::int64_t vocab,
                                            bool* recorded) {
  if (recorded) *recorded = false;
  if (given) {
    std::error_code ec;
    const bool checkpoint = (fs::is_regular_file(spec, ec) && spec.size() > 12 &&
                             spec.compare(spec.size() - 12, 12, ".safetensors") == 0) ||
                            fs::exists(fs::path(spec) / "manifest.json", ec);
    if (!checkpoint) return load_tokenizer(spec);
    auto tok = checkpoint_tokenizer(spec);
    if (!tok)
      throw Error("--tokenizer '" + printable(spec) +
                  "': this checkpoint records no tokenizer (written before checkpoints carried "
                  "theirs, or by `cugpt init`)");
    return tok;
  }
  if (!weights.empty()) {
    std::error_code ec;
    // A weights file that cannot be read is the loader's to report, with its own message.
    std::unique_ptr<SafetensorsFile> f;
    try {
      f = std::make_unique<SafetensorsFile>(SafetensorsFile::open(weights));
    } catch (const Error&) {
      f = nullptr;
    }
    // A corrupt embedded tokenizer is an error, not a reason to fall back to bytes.
    if (f) {
      auto tok = recorded_tokenizer(f->metadata(), printable(weights) + " [recorded]");
      if (tok) {
        if (recorded) *recorded = true;
        return tok;
      }
    }
  }
  if (vocab > 256)
    std::fprintf(stderr,
                 "cugpt: note: no --tokenizer and the checkpoint records none: using the byte "
                 "tokenizer, whose 256 ids are fewer than the model's %lld\n",
                 static_cast<long long>(vocab));
  return load_tokenizer("byte");
}

}  // namespace cugpt::tools
