// Crash-safe file writes. Bytes go to a temporary file beside the target and are renamed into
// place only on commit(), so a reader never sees a half-written checkpoint and an exception (or a
// full disk) mid-write leaves the previous file untouched: multi-hundred-MB checkpoints are
// written over the only copy of a trained model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cugpt {

// What a writer wrote: its size and FNV-1a 64 checksum (a checkpoint manifest records them).
struct FileDigest {
  std::uint64_t bytes = 0;
  std::uint64_t fnv1a64 = 0;
};

class AtomicFile {
 public:
  // Creates "<path>.tmp.<pid>.<counter>" in the target's directory (same filesystem, so the
  // final rename is atomic). Throws cugpt::Error "cannot write '<path>': <strerror>". A target
  // that exists and is not a regular file (a device, FIFO, socket, directory) or is a symbolic
  // link is refused: the rename would replace the node itself (`--out /dev/null` run as root
  // would replace the system's /dev/null), and nothing but the named path is ever replaced.
  explicit AtomicFile(const std::string& path);
  // Removes the temporary file unless commit() succeeded.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t bytes);
  void write(const std::string& bytes) { write(bytes.data(), bytes.size()); }
  // Overwrites `bytes` already written, from `offset` (a header whose count is known only at
  // the end, as in llm.c's token files). The digest stays that of the bytes as first written:
  // writers that record a digest do not call it.
  void write_at(std::uint64_t offset, const void* data, std::size_t bytes);
  // Flushes, fsyncs and renames over `path`. Further writes are errors.
  void commit();
  FileDigest digest() const { return {size_, checksum_}; }

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  // Bytes written so far and their FNV-1a 64 checksum: what a checkpoint manifest records.
  std::uint64_t size() const { return size_; }
  std::uint64_t checksum() const { return checksum_; }

 private:
  void flush_buffer();
  [[noreturn]] void fail(int err) const;

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
  // Writers emit many small pieces (headers, one tensor at a time); batch them into few syscalls.
  std::vector<char> buffer_;
  std::uint64_t size_ = 0;
  std::uint64_t checksum_;
};

// FNV-1a 64 of `bytes` continued from `state` (start from kFnv1aOffset).
constexpr std::uint64_t kFnv1aOffset = 0xcbf29ce484222325ull;
std::uint64_t fnv1a64(const void* bytes, std::size_t n, std::uint64_t state = kFnv1aOffset);

// Refuses (cugpt::Error "cannot write '<path>': ...") a path that exists and is not a regular
// file, or is a symbolic link. Commands call it on their outputs before the work.
void check_output_path(const std::string& path);

// Fault injection for tests: after `bytes` more bytes through AtomicFile::write (all files of
// the process), the next write fails as a full disk would (ENOSPC). -1 turns it off.
void inject_write_fault_after(std::int64_t bytes);

// Writes `bytes` to `path` through an AtomicFile.
void write_file_atomic(const std::string& path, const void* data, std::size_t bytes);
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace cugpt
