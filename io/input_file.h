// File inputs: every file cugpt reads (weights, data, configs, tokenizer files, manifests) must be
// a regular file, checked before a byte is read, and is read up to a limit that depends on what
// the file is. A FIFO would block the reader forever, /dev/zero would grow it without bound, and
// a directory fails every read with a message that does not say why.
#pragma once

#include <cstdint>
#include <string>

namespace cugpt {

// The size of the regular file at `path` (symbolic links followed). Opens it without blocking
// (O_NONBLOCK, so a FIFO cannot hang the check) and fstats the open file. Throws cugpt::Error
// "<what> '<path>': cannot open: <strerror>" or "<what> '<path>': is a FIFO, not a regular file".
std::uint64_t regular_file_size(const std::string& what, const std::string& path);

// The whole file, after the check above; refuses a file larger than `max_bytes`
// ("<what> '<path>': 2.0 GiB is more than the 1.0 GiB limit for a <what>"). Reads at most
// `max_bytes` + 1 bytes even if the file grows meanwhile.
std::string read_regular_file(const std::string& what, const std::string& path,
                              std::uint64_t max_bytes);

// FNV-1a 64 of the whole regular file (checked as above), read in 1 MiB pieces; `*bytes` gets
// its size. Throws naming the file.
std::uint64_t file_fnv1a64(const std::string& what, const std::string& path,
                           std::uint64_t* bytes = nullptr);

// An input read piece by piece, for what is streamed rather than held (`tokenize --file`): a
// regular file, checked as above, or "-" for standard input, which may be a pipe, a terminal or
// a file but not closed nor a directory (both used to read as empty text). A regular file is
// read up to the size fstat gave; if it grows meanwhile, read() throws "file changed while it
// was read". Bounding the total is the caller's: a pipe has no size.
class InputStream {
 public:
  InputStream(const std::string& what, const std::string& path);
  ~InputStream();
  InputStream(const InputStream&) = delete;
  InputStream& operator=(const InputStream&) = delete;

  // Up to `n` bytes into `buf`; 0 at the end. Throws "<what> '<path>': cannot read: ...".
  std::size_t read(char* buf, std::size_t n);
  // A regular file's size (on standard input too), or -1 for a pipe, a terminal or a device.
  std::int64_t size() const { return size_; }
  // "'<path>'" or "- (standard input)", for messages.
  std::string name() const;

 private:
  [[noreturn]] void fail(const std::string& why) const;

  std::string what_, path_;
  int fd_ = -1;
  bool owned_ = false;  // closed by the destructor (not standard input)
  std::int64_t size_ = -1;
  std::uint64_t read_ = 0;
};

}  // namespace cugpt
