// Crash-safe file writes. Bytes go to a temporary file beside the target and are renamed into
// place only on commit(), so a reader never sees a half-written checkpoint and an exception (or a
// full disk) mid-write leaves the previous file untouched: multi-hundred-MB checkpoints are
// written over the only copy of a trained model.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace cugpt {

class AtomicFile {
 public:
  // Creates "<path>.tmp.<pid>.<counter>" in the target's directory (same filesystem, so the
  // final rename is atomic). Throws cugpt::Error "cannot write '<path>': <strerror>".
  explicit AtomicFile(const std::string& path);
  // Removes the temporary file unless commit() succeeded.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t bytes);
  void write(const std::string& bytes) { write(bytes.data(), bytes.size()); }
  // Flushes, fsyncs and renames over `path`. Further writes are errors.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  void flush_buffer();
  [[noreturn]] void fail(int err) const;

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
  // Writers emit many small pieces (headers, one tensor at a time); batch them into few syscalls.
  std::vector<char> buffer_;
};

// Writes `bytes` to `path` through an AtomicFile.
void write_file_atomic(const std::string& path, const void* data, std::size_t bytes);
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace cugpt
