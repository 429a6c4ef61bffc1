#include "io/atomic_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "io/printable.h"
#include "kernels/error.h"

namespace cugpt {

namespace {

std::atomic<unsigned long long> g_counter{0};

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw Error("cannot write '" + printable(path) + "': " + why);
}

const char* kind(mode_t mode) {
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a directory";
}

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// "<parent>/.<name>.<what>.<pid>.<n>" beside `path`.
std::string beside(const std::filesystem::path& path, const char* what) {
  const std::filesystem::path parent = path.parent_path().empty() ? "." : path.parent_path();
  return (parent / ("." + path.filename().string() + "." + what + "." + std::to_string(::getpid()) +
                    "." + std::to_string(g_counter.fetch_add(1))))
      .string();
}

}  // namespace

AtomicDir::AtomicDir(const std::string& path, const std::string& marker) {
  if (path.empty()) fail(path, "empty path");
  // "out/" names the directory "out": the temporary goes beside it, not inside.
  std::filesystem::path p(path);
  while (p.has_filename() == false && p.has_parent_path() && p != p.root_path())
    p = p.parent_path();
  if (p.filename() == "." || p.filename() == ".." || p == p.root_path())
    fail(path, "give a directory by name (not ., .. or /)");
  path_ = p.string();
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode))
      fail(path, std::string("it is ") + kind(st.st_mode) +
                     ", not a directory (cugpt replaces only a directory it wrote)");
    std::error_code ec;
    const bool empty = std::filesystem::is_empty(path_, ec);
    struct stat m {};
    if (!ec && !empty && ::lstat((path_ + "/" + marker).c_str(), &m) != 0)
      fail(path, "a directory with files and no " + marker +
                     ", so not an earlier output of this command (cugpt replaces only its own)");
  } else if (errno != ENOENT) {
    fail(path, std::strerror(errno));
  }
  // As before: missing parents are made (`--out runs/today/inspect`).
  const std::filesystem::path parent = p.parent_path();
  std::error_code made;
  if (!parent.empty()) std::filesystem::create_directories(parent, made);
  temp_ = beside(p, "tmp");
  if (::mkdir(temp_.c_str(), 0777) != 0) fail(path, std::strerror(errno));
}

AtomicDir::~AtomicDir() {
  if (committed_) return;
  std::error_code ec;
  std::filesystem::remove_all(temp_, ec);
}

void AtomicDir::commit() {
  if (committed_) fail(path_, "already published");
  fsync_path(temp_);
  const std::filesystem::path parent = std::filesystem::path(path_).parent_path().empty()
                                           ? "."
                                           : std::filesystem::path(path_).parent_path();
  struct stat st {};
  if (::lstat(path_.c_str(), &st) != 0) {
    if (::rename(temp_.c_str(), path_.c_str()) != 0) fail(path_, std::strerror(errno));
  } else if (::renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, path_.c_str(), RENAME_EXCHANGE) == 0) {
    // The old set is now under the temporary name.
  } else {
    const std::string old = beside(std::filesystem::path(path_), "old");
    if (::rename(path_.c_str(), old.c_str()) != 0) fail(path_, std::strerror(errno));
    if (::rename(temp_.c_str(), path_.c_str()) != 0) {
      const int err = errno;
      ::rename(old.c_str(), path_.c_str());  // put the old set back
      fail(path_, std::strerror(err));
    }
    std::error_code ec;
    std::filesystem::remove_all(old, ec);
    committed_ = true;
    fsync_path(parent.string());
    return;
  }
  committed_ = true;
  fsync_path(parent.string());
  std::error_code ec;
  std::filesystem::remove_all(temp_, ec);  // the old set, after an exchange; absent otherwise
}

}  // namespace cugpt
