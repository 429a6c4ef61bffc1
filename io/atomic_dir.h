// An output directory published as one unit (`inspect --out DIR`): every file goes into a hidden
// directory beside the target, "<parent>/.<name>.tmp.<pid>.<n>/", and commit() puts the whole set
// in place at once. A full disk, an exception or a kill before commit leaves DIR as it was (the
// previous complete set, or nothing); the temporary goes with the writer's destructor (a SIGKILL
// leaves it, under a hidden name no reader opens, as AtomicFile leaves its temporary).
#pragma once

#include <string>

namespace cugpt {

class AtomicDir {
 public:
  // Refuses (one-line cugpt::Error "cannot write '<path>': ...") a target that is a symbolic
  // link, a regular file or a special file, or a directory that is not empty and lacks
  // `marker` (a file every complete set holds, e.g. stats.json): cugpt replaces only its own
  // output. Creates the temporary directory.
  AtomicDir(const std::string& path, const std::string& marker);
  // Removes the temporary directory and what is in it unless commit() succeeded.
  ~AtomicDir();
  AtomicDir(const AtomicDir&) = delete;
  AtomicDir& operator=(const AtomicDir&) = delete;

  // Where to write: the temporary directory, with a trailing '/'.
  std::string prefix() const { return temp_ + "/"; }
  const std::string& temp_path() const { return temp_; }

  // fsyncs the temporary directory, then publishes it: with no previous DIR, one rename; over
  // a previous set, one renameat2(RENAME_EXCHANGE) swaps the two atomically, and the old set,
  // now under the temporary name, is removed. Where the filesystem cannot exchange, the old set
  // is renamed aside to "<parent>/.<name>.old.<pid>.<n>" first: a kill between the two renames
  // leaves DIR absent for that instant, with the old complete set under the .old name and the
  // new one under the .tmp name (docs/robustness.md).
  void commit();

 private:
  std::string path_, temp_;
  bool committed_ = false;
};

}  // namespace cugpt
