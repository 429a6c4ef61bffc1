// A training checkpoint as one unit. `train --out DIR` writes each checkpoint into a fresh
// hidden directory, fsyncs it, renames it to DIR/step-<N>, and commits it by renaming a new
// DIR/manifest.json over the old one: the manifest names the step directory and each file's size
// and FNV-1a 64 checksum. Until that last rename the previous manifest, and the step directory it
// names, stay as they were, so a kill -9 or a full disk at any byte leaves a complete checkpoint
// (the old one or the new one); the previous complete checkpoint is kept after a commit too.
// An exclusive flock on DIR/.lock keeps two writers from mixing their files.
//
//   DIR/manifest.json          {"format": "cugpt-checkpoint", "version": 1, "step": 42,
//                               "directory": "step-42", "files": {"model.safetensors":
//                               {"bytes": 1234, "fnv1a64": "cbf29ce484222325"}, ...},
//                               "metadata": {"config": "gpt2-tiny", ...}}
//   DIR/step-42/model.safetensors, optimizer.safetensors
//   DIR/model.safetensors -> step-42/model.safetensors   (convenience links, see publish())
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "io/atomic_file.h"

namespace cugpt {

struct ManifestFile {
  std::string name;  // a plain file name inside the step directory
  std::uint64_t bytes = 0;
  std::uint64_t fnv1a64 = 0;
};

struct CheckpointManifest {
  std::int64_t step = 0;
  std::string directory;  // "step-42", relative to the checkpoint directory
  std::string previous;   // the previous complete checkpoint's directory, kept; "" if none
  // Older complete checkpoints kept too (CheckpointDir's `keep` above 2), newest first.
  std::vector<std::string> kept;
  std::vector<ManifestFile> files;
  // String fields for what a later reader wants to know (config, optimizer; the tokenizer and
  // the training arguments later), carried and returned unchanged.
  std::map<std::string, std::string> metadata;
};

// Parses and validates a manifest's text; `where` prefixes every message
// ("checkpoint 'run': manifest.json: field 'step' = -5 is out of range [0, 2^53]").
CheckpointManifest parse_manifest(const std::string& text, const std::string& where);
std::string manifest_text(const CheckpointManifest& m);

class CheckpointDir {
 public:
  // Creates `dir` if needed and takes an exclusive lock on dir/.lock, without waiting: a second
  // writer gets "checkpoint directory 'run' is in use by another cugpt process". Removes
  // leftovers of interrupted writes (hidden step directories, step directories the manifest
  // names neither as current nor as previous), which only a writer can have made: the disk
  // holds at most two checkpoints and the one being written.
  // `keep` (at least 2): how many complete checkpoints publish() leaves on disk, the new one
  // and the previous one included; older ones are listed in the manifest's "kept".
  explicit CheckpointDir(const std::string& dir, int keep = 2);
  ~CheckpointDir();
  CheckpointDir(const CheckpointDir&) = delete;
  CheckpointDir& operator=(const CheckpointDir&) = delete;

  const std::string& path() const { return dir_; }

  // Writes one file: the function gets the path to write (through AtomicFile) and returns what
  // it wrote.
  using Writer = std::function<FileDigest(const std::string& path)>;
  // Writes every file into a new step directory and commits it (see above). Then points the
  // convenience links DIR/<name> at the new files (best effort: the checkpoint is committed
  // before) and removes step directories other than the `keep` newest.
  void publish(std::int64_t step, const std::vector<std::pair<std::string, Writer>>& files,
               const std::map<std::string, std::string>& metadata = {});

 private:
  std::string dir_;
  int keep_ = 2;
  int lock_fd_ = -1;
};

// Reads dir/manifest.json and checks every file it names: a regular file of the recorded size
// and checksum. Throws "checkpoint '<dir>': step-42/model.safetensors: ... (torn or mixed)".
// Returns the manifest; the files are at dir + "/" + directory + "/" + name.
CheckpointManifest verify_checkpoint(const std::string& dir);
// Reads and validates dir/manifest.json only (no file checks): what a checkpoint records.
CheckpointManifest read_checkpoint_manifest(const std::string& dir);

}  // namespace cugpt
