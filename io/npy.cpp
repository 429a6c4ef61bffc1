#include "io/npy.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "io/atomic_file.h"
#include "io/input_file.h"
#include "io/printable.h"
#include "kernels/error.h"

namespace cugpt {

namespace {

constexpr char kMagic[] = "\x93NUMPY";  // 6 bytes
constexpr std::size_t kMagicBytes = 6;

std::size_t descr_size(const std::string& descr) {
  if (descr == "<f4" || descr == "<i4") return 4;
  if (descr == "<f8" || descr == "<i8") return 8;
  return 0;
}

void write_npy_raw(const std::string& path, const char* descr, std::size_t elem_size,
                   const void* data, const std::vector<std::int64_t>& shape) {
  std::int64_t numel = 1;
  std::string dims;
  for (std::int64_t d : shape) {
    if (d < 0) throw Error("npy '" + path + "': negative dimension " + std::to_string(d));
    numel *= d;
    dims += std::to_string(d) + ", ";
  }
  // Python's tuple syntax: "()", "(5,)", "(2, 3)".
  if (shape.size() > 1)
    dims.resize(dims.size() - 2);
  else if (shape.size() == 1)
    dims.resize(dims.size() - 1);
  std::string header =
      std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // numpy aligns the data to 64 bytes: magic (6) + version (2) + length (2) + header, where the
  // header ends with a newline after the padding spaces.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  if (header.size() > 0xffff)
    throw Error("npy '" + path + "': shape too long for a version 1.0 header");

  AtomicFile file(path);
  file.write(kMagic, kMagicBytes);
  const unsigned char version_and_len[4] = {1, 0, static_cast<unsigned char>(header.size() & 0xff),
                                            static_cast<unsigned char>(header.size() >> 8)};
  file.write(version_and_len, 4);
  file.write(header);
  file.write(data, static_cast<std::size_t>(numel) * elem_size);
  file.commit();
}

// A parser for the one Python literal numpy writes: a dict of str keys to a str, a bool or a
// tuple of ints. Anything else is a header error.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  void parse(NpyArray& out, bool& fortran) {
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        out.descr = parse_string();
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran = parse_bool();
        have_order = true;
      } else if (key == "shape") {
        out.shape = parse_tuple();
        have_shape = true;
      } else {
        fail("unexpected key '" + printable(key) + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') fail("expected ',' or '}'");
    }
    ++pos_;
    skip_space();
    if (pos_ != s_.size()) fail("trailing characters after the dict");
    if (!have_descr || !have_order || !have_shape)
      fail("header lacks 'descr', 'fortran_order' or 'shape'");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error("npy '" + path_ + "': bad header at character " + std::to_string(pos_) + ": " +
                what);
  }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t')) ++pos_;
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string parse_string() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const std::size_t end = s_.find(quote, pos_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string v = s_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return v;
  }
  bool parse_bool() {
    skip_space();
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  std::vector<std::int64_t> parse_tuple() {
    expect('(');
    std::vector<std::int64_t> dims;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') fail("expected a non-negative integer");
      std::int64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (v > (std::int64_t{1} << 50)) fail("dimension too large");
        v = v * 10 + (s_[pos_++] - '0');
      }
      dims.push_back(v);
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != ')') fail("expected ',' or ')'");
    }
    ++pos_;
    return dims;
  }

  const std::string& s_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

}  // namespace

void write_npy(const std::string& path, const float* data, const std::vector<std::int64_t>& shape) {
  write_npy_raw(path, "<f4", 4, data, shape);
}
void write_npy(const std::string& path, const double* data,
               const std::vector<std::int64_t>& shape) {
  write_npy_raw(path, "<f8", 8, data, shape);
}
void write_npy(const std::string& path, const std::int32_t* data,
               const std::vector<std::int64_t>& shape) {
  write_npy_raw(path, "<i4", 4, data, shape);
}

std::int64_t NpyArray::numel() const {
  // A zero anywhere makes the array empty, whatever the other dimensions: multiplying them
  // first could overflow (read_npy bounds only the dimensions of a non-empty array).
  for (std::int64_t d : shape)
    if (d == 0) return 0;
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

std::size_t NpyArray::element_size() const {
  return descr_size(descr);
}

std::vector<float> NpyArray::as_floats() const {
  const std::size_t n = static_cast<std::size_t>(numel());
  const std::size_t es = element_size();
  if (es == 0 || data.size() != n * es)
    throw Error("NpyArray::as_floats: inconsistent array (descr '" + descr + "')");
  std::vector<float> out(n);
  const unsigned char* p = data.data();
  for (std::size_t i = 0; i < n; ++i, p += es) {
    if (descr == "<f4") {
      std::memcpy(&out[i], p, 4);
    } else if (descr == "<f8") {
      double v;
      std::memcpy(&v, p, 8);
      out[i] = static_cast<float>(v);
    } else if (descr == "<i4") {
      std::int32_t v;
      std::memcpy(&v, p, 4);
      out[i] = static_cast<float>(v);
    } else {
      std::int64_t v;
      std::memcpy(&v, p, 8);
      out[i] = static_cast<float>(v);
    }
  }
  return out;
}

// Arrays cugpt writes are activations and statistics; larger files are not read into memory.
constexpr std::uint64_t kMaxNpyBytes = 16ull << 30;

NpyArray read_npy(const std::string& path) {
  auto fail = [&](const std::string& what) { throw Error("npy '" + path + "': " + what); };
  // A regular file (a FIFO would hang the read, /dev/zero would never end it), read whole.
  const std::string bytes = read_regular_file("npy", path, kMaxNpyBytes);

  if (bytes.size() < kMagicBytes + 2 || bytes.compare(0, kMagicBytes, kMagic, kMagicBytes) != 0)
    fail("not a .npy file (bad magic)");
  const unsigned major = static_cast<unsigned char>(bytes[6]);
  if (major < 1 || major > 3)
    fail("unsupported format version " + std::to_string(major) + "." +
         std::to_string(static_cast<unsigned char>(bytes[7])));
  // Version 1 has a 2-byte header length, later versions a 4-byte one.
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  const std::size_t prefix = 8 + len_bytes;
  if (bytes.size() < prefix) fail("truncated before the header length");
  std::size_t header_len = 0;
  for (std::size_t i = len_bytes; i-- > 0;)
    header_len = (header_len << 8) | static_cast<unsigned char>(bytes[8 + i]);
  if (bytes.size() - prefix < header_len)
    fail("truncated header (" + std::to_string(header_len) + " bytes announced, " +
         std::to_string(bytes.size() - prefix) + " present)");

  NpyArray out;
  bool fortran = false;
  const std::string header = bytes.substr(prefix, header_len);
  HeaderParser(header, path).parse(out, fortran);
  if (out.descr.size() == 3 && out.descr[0] == '>')
    fail("big-endian dtype '" + printable(out.descr) + "' is not supported");
  if (descr_size(out.descr) == 0)
    fail("unsupported dtype '" + printable(out.descr) + "' (supported: <f4, <f8, <i4, <i8)");
  if (fortran) fail("fortran_order arrays are not supported (save a C-order array)");

  // Bound the element count by the file size before multiplying, so a hostile shape cannot
  // overflow into a small expected size.
  bool empty = false;
  for (std::int64_t d : out.shape) empty = empty || d == 0;
  std::size_t numel = 1;
  for (std::int64_t d : out.shape)
    if (!empty) {
      if (numel > bytes.size() / static_cast<std::size_t>(d))
        fail("truncated data: the shape needs more bytes than the file has");
      numel *= static_cast<std::size_t>(d);
    }
  const std::size_t expected = empty ? 0 : numel * out.element_size();
  const std::size_t present = bytes.size() - prefix - header_len;
  if (present != expected)
    fail(std::string(present < expected ? "truncated data: " : "data size mismatch: ") +
         std::to_string(present) + " bytes, shape needs " + std::to_string(expected));
  out.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(prefix + header_len), bytes.end());
  return out;
}

}  // namespace cugpt
