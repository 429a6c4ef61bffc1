#include "io/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "io/printable.h"
#include "kernels/error.h"

namespace cugpt {

namespace {

constexpr std::size_t kBufferBytes = 1 << 20;

// Bytes left before the injected fault; negative: no fault.
std::atomic<std::int64_t> g_fault_bytes{-1};

// Distinguishes temporaries of several writers to the same path inside one process.
std::atomic<unsigned long long> g_temp_counter{0};

std::string directory_of(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// After the rename the new directory entry itself must reach the disk, or a crash could bring
// back the old file. Best effort: some filesystems refuse to fsync a directory.
void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// Ctrl-C or a kill (SIGINT, SIGTERM, SIGHUP) in the middle of a write would leave the temporary
// behind. Live temporaries are listed in fixed slots that a signal handler can read without
// allocating; the handler removes them, then lets the signal's default action end the process.
// It is installed only for signals whose disposition is still the default (a program with its
// own handler, like `cugpt train` for Ctrl-C, keeps it). SIGKILL leaves the temporary: nothing
// runs then.
constexpr int kSlots = 64;
constexpr std::size_t kMaxTempPath = 4096;
struct TempSlot {
  std::atomic<int> state{0};  // 0 free, 1 being filled or emptied, 2 live
  const void* owner = nullptr;
  char path[kMaxTempPath];
};
TempSlot g_slots[kSlots];
constexpr int kCleanupSignals[] = {SIGINT, SIGTERM, SIGHUP};

extern "C" void remove_temporaries_and_die(int sig) {
  for (TempSlot& slot : g_slots)
    if (slot.state.load(std::memory_order_acquire) == 2) ::unlink(slot.path);
  // SA_RESETHAND restored the default action; the raised signal is delivered once the handler
  // returns, and ends the process as it would have without this handler.
  ::raise(sig);
}

void install_cleanup_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (const int sig : kCleanupSignals) {
      struct sigaction current {};
      if (::sigaction(sig, nullptr, &current) != 0 || current.sa_handler != SIG_DFL) continue;
      struct sigaction handler {};
      handler.sa_handler = remove_temporaries_and_die;
      handler.sa_flags = SA_RESETHAND;
      sigemptyset(&handler.sa_mask);
      ::sigaction(sig, &handler, nullptr);
    }
  });
}

void register_temporary(const void* owner, const std::string& path) {
  if (path.size() >= kMaxTempPath) return;  // not cleaned up on a signal, still correct
  for (TempSlot& slot : g_slots) {
    int expected = 0;
    if (!slot.state.compare_exchange_strong(expected, 1)) continue;
    slot.owner = owner;
    std::memcpy(slot.path, path.c_str(), path.size() + 1);
    slot.state.store(2, std::memory_order_release);
    return;
  }
}

void unregister_temporary(const void* owner) {
  for (TempSlot& slot : g_slots) {
    if (slot.state.load(std::memory_order_acquire) != 2 || slot.owner != owner) continue;
    slot.state.store(1);
    slot.owner = nullptr;
    slot.state.store(0, std::memory_order_release);
    return;
  }
}

const char* node_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

}  // namespace

std::uint64_t fnv1a64(const void* bytes, std::size_t n, std::uint64_t state) {
  const unsigned char* p = static_cast<const unsigned char*>(bytes);
  for (std::size_t i = 0; i < n; ++i) state = (state ^ p[i]) * 0x100000001b3ull;
  return state;
}

void check_output_path(const std::string& path) {
  if (path.empty()) throw Error("cannot write '': empty path");
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;  // absent (or unreachable: open() will say)
  if (S_ISREG(st.st_mode)) return;
  throw Error("cannot write '" + printable(path) + "': it is " + node_kind(st.st_mode) +
              ", not a regular file (cugpt replaces only regular files)");
}

void inject_write_fault_after(std::int64_t bytes) {
  g_fault_bytes.store(bytes);
}

AtomicFile::AtomicFile(const std::string& path) : path_(path), checksum_(kFnv1aOffset) {
  check_output_path(path);
  temp_path_ = path + ".tmp." + std::to_string(::getpid()) + "." +
               std::to_string(g_temp_counter.fetch_add(1));
  install_cleanup_handlers();
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd_ < 0) fail(errno);
  register_temporary(this, temp_path_);
  buffer_.reserve(kBufferBytes);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
  unregister_temporary(this);
}

void AtomicFile::fail(int err) const {
  throw Error("cannot write '" + printable(path_) + "': " + std::strerror(err));
}

void AtomicFile::write(const void* data, std::size_t bytes) {
  if (fd_ < 0) throw Error("cannot write '" + path_ + "': file already committed or failed");
  const char* p = static_cast<const char*>(data);
  const std::int64_t fault = g_fault_bytes.load();
  if (fault >= 0) {
    if (static_cast<std::uint64_t>(fault) < bytes) {
      g_fault_bytes.store(-1);
      fail(ENOSPC);
    }
    g_fault_bytes.store(fault - static_cast<std::int64_t>(bytes));
  }
  size_ += bytes;
  checksum_ = fnv1a64(p, bytes, checksum_);
  if (buffer_.size() + bytes <= kBufferBytes) {
    buffer_.insert(buffer_.end(), p, p + bytes);
    return;
  }
  flush_buffer();
  if (bytes < kBufferBytes) {
    buffer_.insert(buffer_.end(), p, p + bytes);
    return;
  }
  // Large pieces (a whole tensor) go straight to the file rather than through the buffer.
  while (bytes > 0) {
    const ssize_t n = ::write(fd_, p, bytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(errno);
    }
    p += n;
    bytes -= static_cast<std::size_t>(n);
  }
}

void AtomicFile::write_at(std::uint64_t offset, const void* data, std::size_t bytes) {
  if (fd_ < 0) throw Error("cannot write '" + path_ + "': file already committed or failed");
  if (offset > size_ || bytes > size_ - offset)
    throw Error("cannot write '" + path_ + "': write_at past the bytes written");
  flush_buffer();
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::pwrite(fd_, p, bytes, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(errno);
    }
    p += n;
    offset += static_cast<std::uint64_t>(n);
    bytes -= static_cast<std::size_t>(n);
  }
}

void AtomicFile::flush_buffer() {
  const char* p = buffer_.data();
  std::size_t left = buffer_.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(errno);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  buffer_.clear();
}

void AtomicFile::commit() {
  if (fd_ < 0) throw Error("cannot write '" + path_ + "': file already committed or failed");
  flush_buffer();
  if (::fsync(fd_) != 0) fail(errno);
  const int fd = fd_;
  fd_ = -1;
  // close() can report a deferred write error (NFS, quota): the data is not safe then.
  if (::close(fd) != 0) fail(errno);
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) fail(errno);
  committed_ = true;
  unregister_temporary(this);
  sync_directory(directory_of(path_));
}

void write_file_atomic(const std::string& path, const void* data, std::size_t bytes) {
  AtomicFile file(path);
  file.write(data, bytes);
  file.commit();
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace cugpt
