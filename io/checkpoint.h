// Checkpoints: a module's parameter registry saved to and loaded from safetensors, with the
// registry's qualified names as keys. Loading checks every name, shape and dtype before it copies
// a byte, so a checkpoint that does not fit the model fails with one line naming the first bad
// tensor and leaves the model as it was.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "io/atomic_file.h"
#include "nn/module.h"

namespace cugpt {

struct LoadOptions {
  // Model tensors the file lacks are reported instead of failing the load.
  bool allow_missing = false;
  // File tensors the model lacks are reported instead of failing the load.
  bool allow_extra = false;
  // A file key K that is not a model name but P+K is loads into P+K (GPT-2 files saved from the
  // bare transformer, without "transformer.").
  std::vector<std::string> optional_prefixes;
  // File keys ending with one of these are skipped (buffers such as GPT-2's ".attn.bias" mask).
  std::vector<std::string> ignored_suffixes;
  // Convert a floating file dtype (f32, f64, bf16, f16) that differs from the model's, through
  // double; otherwise an error. Integer tensors are never converted.
  bool convert_dtype = false;
};

struct LoadReport {
  int loaded = 0;  // tensors copied (validated only, on a meta-device model)
  // File keys skipped: ignored suffixes, and tied aliases whose primary name the file also has.
  std::vector<std::string> ignored;
  std::vector<std::string> missing;  // model names the file lacks (with allow_missing)
  std::vector<std::string> extra;    // file keys the model lacks (with allow_extra)
  // File tensors holding NaN or Inf, with how many such values: loaded as they are (a model may
  // be inspected whatever its weights), for the caller to warn about. Not checked on meta.
  std::vector<std::pair<std::string, std::int64_t>> nonfinite;
  // Tensors converted (convert_dtype), counted per "<file dtype> to <model dtype>" ("BF16 to
  // F32"), for the caller to say once that the model holds rounded or widened copies.
  std::map<std::string, int> converted;
};

// Loads `path` into the module's tensors. A key naming a tied alias (lm_head.weight for wte)
// loads the shared tensor when the file lacks the primary name. Tensors on the meta device are
// validated only. Throws cugpt::Error "checkpoint '<path>': ..." on any mismatch.
LoadReport load_checkpoint(Module& m, const std::string& path, const LoadOptions& options = {});

// Saves Module::named_parameters() (tied duplicates once, under the first name). Metadata gets
// "format": "pt" unless given, which Hugging Face loaders expect of a PyTorch-layout file.
FileDigest save_checkpoint(const Module& m, const std::string& path,
                           const std::map<std::string, std::string>& metadata = {});

}  // namespace cugpt
