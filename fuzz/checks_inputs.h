// The checks of the fuzz targets for issue 15's inputs: checkpoint manifests (and the resume
// metadata's numbers), numeric options and token lists, and the dataset reader. Shared by the
// libFuzzer targets and the FuzzReplay tests, as fuzz/checks.h is.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "fuzz/checks.h"
#include "io/checkpoint_dir.h"
#include "io/numbers.h"
#include "tools/batch.h"
#include "train/dataset.h"

namespace cugpt::fuzz {

// Any text: an Error of one line, or a manifest whose fields are in range and which writes out
// and parses back to the same manifest.
inline void check_manifest(const std::string& text) {
  CheckpointManifest m;
  try {
    m = parse_manifest(text, "manifest");
  } catch (const Error& e) {
    check_message(e);
    return;
  }
  require(m.step >= 0 && m.step <= (std::int64_t{1} << 53), "step out of range");
  require(
      !m.directory.empty() && m.directory.find('/') == std::string::npos && m.directory[0] != '.',
      "a directory that is not a plain name: " + m.directory);
  require(!m.files.empty(), "no files");
  for (const ManifestFile& f : m.files)
    require(!f.name.empty() && f.name.find('/') == std::string::npos && f.name[0] != '.',
            "a file name that is not plain: " + f.name);
  const CheckpointManifest back = parse_manifest(manifest_text(m), "again");
  require(back.step == m.step && back.directory == m.directory && back.previous == m.previous &&
              back.files.size() == m.files.size() && back.metadata == m.metadata &&
              back.run == m.run,
          "the manifest does not survive a round trip");
}

// Any text as an option's value and as a token list: an Error of one line, or a value in range.
inline void check_option_text(const std::string& text) {
  const auto guard = [](const auto& f) {
    try {
      f();
    } catch (const Error& e) {
      check_message(e);
    }
  };
  guard([&] {
    const std::int64_t v = parse_int("--n", text, -5, 1000);
    require(v >= -5 && v <= 1000, "parse_int out of range");
  });
  guard([&] {
    const double v = parse_real("--x", text, 0, 10);
    require(std::isfinite(v) && v >= 0 && v <= 10, "parse_real out of range or not finite");
  });
  guard([&] { parse_uint("--seed", text); });
  guard([&] {
    const auto rows = parse_token_rows(text, "tokens");
    require(!rows.empty(), "no rows");
    for (const auto& r : rows) require(!r.empty(), "an empty row accepted");
  });
}

// Any bytes as a .bin (first byte even) or .u32.bin file: an Error of one line, or tokens all
// inside the vocabulary of 300, split into train and validation.
inline void check_dataset_bytes(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  const char* suffix = data[0] % 3 == 0 ? ".bin" : data[0] % 3 == 1 ? ".u32.bin" : ".txt";
  const std::string path = write_temp(data + 1, size - 1, suffix);
  try {
    const Dataset d = Dataset::load(path, 300);
    require(d.train_tokens() >= 0 && d.val_tokens() >= 0, "negative split");
    if (d.train_tokens() > 3) {
      std::vector<std::int32_t> in, target;
      d.train_batch(1, 0, 2, 2, in, target);
      for (std::int32_t t : in) require(t >= 0 && t < 300, "a token outside the vocabulary");
    }
  } catch (const Error& e) {
    check_message(e);
  }
  std::remove(path.c_str());
}

}  // namespace cugpt::fuzz
