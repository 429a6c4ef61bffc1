// A training checkpoint as one unit. `train --out DIR` writes each checkpoint into a fresh
// hidden directory, fsyncs it, renames it to DIR/step-<N>, and commits it by renaming a new
// DIR/manifest.json over the old one: the manifest names the step directory and each file's size
// and FNV-1a 64 checksum. Until that last rename the previous manifest, and the step directory it
// names, stay as they were, so a kill -9 or a full disk at any byte leaves a complete checkpoint
// (the old one or the new one); the previous complete checkpoint is kept after a commit too.
// An exclusive flock on DIR/.lock keeps two writers from mixing their files.
//
// A writer deletes or replaces only what cugpt wrote (issue 29): DIR must be new or empty, or
// hold nothing but a checkpoint's parts (its manifest, the step directories the manifest lists,
// the convenience links, the lock, leftovers of an interrupted write); anything else is refused
// by name. Another run's checkpoint (the manifest's "run") is refused unless the writer was told
// to replace it (`train --overwrite`); even then only the step directories a manifest lists go.
//
//   DIR/manifest.json          {"format": "cugpt-checkpoint", "version": 1, "step": 42,
//                               "directory": "step-42", "files": {"model.safetensors":
//                               {"bytes": 1234, "fnv1a64": "cbf29ce484222325"}, ...},
//                               "metadata": {"config": "gpt2-tiny", ...}}
//   DIR/step-42/model.safetensors, optimizer.safetensors, .cugpt-step (the marker that makes
//                               a step directory no manifest lists yet, an interrupted save,
//                               recognisable as cugpt's)
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
  // The run these checkpoints belong to: 16 hex digits drawn when a run starts and carried by
  // every checkpoint of it, a resumed run's included; "" in manifests written before issue 29.
  std::string run;
};

// A new run's id: 16 lowercase hex digits from std::random_device.
std::string new_run_id();

// Parses and validates a manifest's text; `where` prefixes every message
// ("checkpoint 'run': manifest.json: field 'step' = -5 is out of range [0, 2^53]").
CheckpointManifest parse_manifest(const std::string& text, const std::string& where);
std::string manifest_text(const CheckpointManifest& m);

struct CheckpointDirOptions {
  // How many complete checkpoints publish() leaves on disk (at least 2), the new one and the
  // previous one included; older ones are listed in the manifest's "kept".
  int keep = 2;
  // The run this writer continues. A directory holding another run's checkpoint is refused
  // unless `overwrite`. "": whichever run the directory holds (the library's default, as in
  // Trainer::save(dir)); a new run passes new_run_id(), a resumed one the id it resumes.
  std::string run;
  // Take over a directory holding another run's checkpoint: this run's first commit replaces
  // it, and the step directories its manifest lists go then. Nothing else is ever removed.
  bool overwrite = false;
};

class CheckpointDir {
 public:
  // Creates `dir` if needed and takes an exclusive lock on dir/.lock, without waiting: a second
  // writer gets "checkpoint directory 'run' is in use by another cugpt process". Then checks
  // what is there (see above): one line naming what cugpt did not write, or another run's
  // checkpoint, and the way out. Removes leftovers of interrupted writes (hidden
  // .step-N.tmp.<pid>.<n> directories, step directories with cugpt's marker that no manifest
  // lists, temporaries of the manifest and of the links), which only a writer can have made.
  explicit CheckpointDir(const std::string& dir, int keep = 2);
  CheckpointDir(const std::string& dir, const CheckpointDirOptions& options);
  ~CheckpointDir();
  CheckpointDir(const CheckpointDir&) = delete;
  CheckpointDir& operator=(const CheckpointDir&) = delete;

  const std::string& path() const { return dir_; }
  // The run id every manifest this writer commits carries.
  const std::string& run() const { return run_; }

  // Writes one file: the function gets the path to write (through AtomicFile) and returns what
  // it wrote.
  using Writer = std::function<FileDigest(const std::string& path)>;
  // Writes every file into a new step directory and commits it (see above). Then points the
  // convenience links DIR/<name> at the new files (best effort: the checkpoint is committed
  // before; a regular file there is left alone) and removes the step directories the previous
  // manifest listed beyond the `keep` newest (only cugpt's files in them: a directory holding
  // anything else stays, and a later writer refuses it by name).
  void publish(std::int64_t step, const std::vector<std::pair<std::string, Writer>>& files,
               const std::map<std::string, std::string>& metadata = {});

 private:
  std::string dir_;
  int keep_ = 2;
  int lock_fd_ = -1;
  std::string run_;
  // Another run's step directories (overwrite): they go at this writer's first commit.
  std::vector<std::string> replaced_;
  bool replacing_ = false;
  void check_contents(const CheckpointDirOptions& options);
};

// Reads dir/manifest.json and checks every file it names: a regular file of the recorded size
// and checksum. Throws "checkpoint '<dir>': step-42/model.safetensors: ... (torn or mixed)".
// Returns the manifest; the files are at dir + "/" + directory + "/" + name.
CheckpointManifest verify_checkpoint(const std::string& dir);
// Reads and validates dir/manifest.json only (no file checks): what a checkpoint records.
CheckpointManifest read_checkpoint_manifest(const std::string& dir);

}  // namespace cugpt
