#include "io/input_file.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "io/atomic_file.h"
#include "io/printable.h"
#include "kernels/error.h"
#include "nn/bytes.h"

namespace cugpt {

namespace {

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "is a directory";
  if (S_ISCHR(mode)) return "is a character device";
  if (S_ISBLK(mode)) return "is a block device";
  if (S_ISFIFO(mode)) return "is a FIFO";
  if (S_ISSOCK(mode)) return "is a socket";
  return "is not a regular file";
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

[[noreturn]] void fail(const std::string& what, const std::string& path, const std::string& why) {
  throw Error(what + " '" + printable(path) + "': " + why);
}

// Opens `path` for reading without blocking and checks it is a regular file; returns its size.
std::uint64_t open_regular(const std::string& what, const std::string& path, Fd& fd) {
  fd.fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd.fd < 0) {
    const int err = errno;
    // Without O_NONBLOCK a directory opens; with it, some systems say EISDIR: same message.
    if (err == EISDIR) fail(what, path, "is a directory, not a file");
    fail(what, path, std::string("cannot open: ") + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0)
    fail(what, path, std::string("cannot stat: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail(what, path, "is a directory, not a file");
  if (!S_ISREG(st.st_mode))
    fail(what, path, std::string(kind_of(st.st_mode)) + ", not a regular file");
  return static_cast<std::uint64_t>(st.st_size);
}

}  // namespace

std::uint64_t regular_file_size(const std::string& what, const std::string& path) {
  Fd fd;
  return open_regular(what, path, fd);
}

std::string read_regular_file(const std::string& what, const std::string& path,
                              std::uint64_t max_bytes) {
  Fd fd;
  const std::uint64_t size = open_regular(what, path, fd);
  const auto too_large = [&](std::uint64_t n) {
    fail(what, path,
         "file of " + format_bytes(n) + " is larger than the " + format_bytes(max_bytes) +
             " limit for a " + what);
  };
  if (size > max_bytes) too_large(size);
  // Regular files never block; clear O_NONBLOCK anyway so reads behave as usual.
  ::fcntl(fd.fd, F_SETFL, ::fcntl(fd.fd, F_GETFL) & ~O_NONBLOCK);
  std::string out(static_cast<std::size_t>(size), '\0');
  std::size_t got = 0;
  // The file may grow after the fstat: read what it held, then one byte to see if there is more.
  while (got < out.size()) {
    const ssize_t n = ::read(fd.fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(what, path, std::string("cannot read: ") + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  char extra;
  ssize_t n;
  do n = ::read(fd.fd, &extra, 1);
  while (n < 0 && errno == EINTR);
  if (n > 0) fail(what, path, "file changed while it was read");
  return out;
}

std::uint64_t file_fnv1a64(const std::string& what, const std::string& path, std::uint64_t* bytes) {
  Fd fd;
  open_regular(what, path, fd);
  ::fcntl(fd.fd, F_SETFL, ::fcntl(fd.fd, F_GETFL) & ~O_NONBLOCK);
  std::vector<unsigned char> buf(1 << 20);
  std::uint64_t h = kFnv1aOffset, total = 0;
  for (;;) {
    const ssize_t n = ::read(fd.fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(what, path, std::string("cannot read: ") + std::strerror(errno));
    if (n == 0) break;
    h = fnv1a64(buf.data(), static_cast<std::size_t>(n), h);
    total += static_cast<std::uint64_t>(n);
  }
  if (bytes) *bytes = total;
  return h;
}

InputStream::InputStream(const std::string& what, const std::string& path)
    : what_(what), path_(path) {
  if (path == "-") {
    fd_ = STDIN_FILENO;
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      if (errno == EBADF) fail("is closed");
      fail(std::string("cannot stat: ") + std::strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) fail("is a directory, not a file");
    if (S_ISREG(st.st_mode)) size_ = static_cast<std::int64_t>(st.st_size);
    return;
  }
  Fd fd;
  size_ = static_cast<std::int64_t>(open_regular(what, path, fd));
  ::fcntl(fd.fd, F_SETFL, ::fcntl(fd.fd, F_GETFL) & ~O_NONBLOCK);
  fd_ = fd.fd;
  fd.fd = -1;
  owned_ = true;
}

InputStream::~InputStream() {
  if (owned_ && fd_ >= 0) ::close(fd_);
}

std::string InputStream::name() const {
  return path_ == "-" ? std::string("- (standard input)") : "'" + printable(path_) + "'";
}

void InputStream::fail(const std::string& why) const {
  throw Error(what_ + " " + name() + ": " + why);
}

std::size_t InputStream::read(char* buf, std::size_t n) {
  // A regular file ends at the size it had when opened; one byte more means it grew.
  const bool sized = size_ >= 0;
  if (sized && read_ >= static_cast<std::uint64_t>(size_)) {
    char extra;
    ssize_t got;
    do got = ::read(fd_, &extra, 1);
    while (got < 0 && errno == EINTR);
    if (got > 0) fail("file changed while it was read");
    return 0;
  }
  if (sized)
    n = static_cast<std::size_t>(
        std::min<std::uint64_t>(n, static_cast<std::uint64_t>(size_) - read_));
  for (;;) {
    const ssize_t got = ::read(fd_, buf, n);
    if (got >= 0) {
      read_ += static_cast<std::uint64_t>(got);
      if (got == 0 && sized) fail("file changed while it was read");  // shrank
      return static_cast<std::size_t>(got);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {  // a non-blocking pipe: wait for it
      struct pollfd p {
        fd_, POLLIN, 0
      };
      ::poll(&p, 1, -1);
      continue;
    }
    fail(std::string("cannot read: ") + std::strerror(errno));
  }
}

}  // namespace cugpt
