#include "io/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "io/atomic_file.h"
#include "io/input_file.h"
#include "io/printable.h"
#include "kernels/error.h"

namespace cugpt {

namespace {

// Not ordered_json: its objects find keys by a linear scan, which made a header of 40,000 tensors
// take 10 s to parse. The file order of the tensors (entries() is file order) is recorded by the
// parse callback instead.
using Json = nlohmann::json;

// A header this large is not a checkpoint header (real ones are well under 1 MiB); refuse it
// before allocating for it.
constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;
constexpr const char* kMetadataKey = "__metadata__";

bool parse_dtype_name(const std::string& s, DType& out) {
  if (s == "F32")
    out = DType::f32;
  else if (s == "F16")
    out = DType::f16;
  else if (s == "BF16")
    out = DType::bf16;
  else if (s == "F64")
    out = DType::f64;
  else if (s == "I32")
    out = DType::i32;
  else
    return false;
  return true;
}

// The keys of every object (to find duplicates) and the top level's in order; values ignored.
struct KeyScan : nlohmann::json_sax<Json> {
  std::vector<std::set<std::string>> open;
  std::vector<std::string> order;
  std::string duplicate;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    open.emplace_back();
    return true;
  }
  bool key(string_t& k) override {
    if (!open.back().insert(k).second && duplicate.empty()) duplicate = k;
    if (open.size() == 1) order.push_back(k);
    return true;
  }
  bool end_object() override {
    open.pop_back();
    return true;
  }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }
};

std::string json_type(const Json& j) {
  return j.type_name();
}

}  // namespace

const char* safetensors_dtype_name(DType t) {
  switch (t) {
    case DType::f32:
      return "F32";
    case DType::f16:
      return "F16";
    case DType::bf16:
      return "BF16";
    case DType::f64:
      return "F64";
    case DType::i32:
      return "I32";
  }
  return "?";
}

std::int64_t SafetensorsEntry::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

void SafetensorsFile::fail(const std::string& what) const {
  throw Error("safetensors '" + path_ + "': " + what);
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;
  f.path_ = path;
  // A regular file, checked before the stream opens it: a FIFO would block the open, a
  // directory would open and fail every read as if the file were corrupt.
  regular_file_size("safetensors", path);
  f.stream_ = std::make_unique<std::ifstream>(path, std::ios::binary);
  std::ifstream& in = *f.stream_;
  if (!in) f.fail(std::string("cannot open: ") + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff file_size_signed = in.tellg();
  if (file_size_signed < 0) f.fail("cannot determine the file size");
  const std::uint64_t file_size = static_cast<std::uint64_t>(file_size_signed);
  if (file_size < 8)
    f.fail("file is " + std::to_string(file_size) +
           " bytes, shorter than the 8-byte header length");

  in.seekg(0);
  unsigned char len_bytes[8];
  if (!in.read(reinterpret_cast<char*>(len_bytes), 8)) f.fail("cannot read the header length");
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > kMaxHeaderBytes)
    f.fail("header length " + std::to_string(header_len) + " is absurd (more than 100 MiB)");
  if (header_len > file_size - 8)
    f.fail("header length " + std::to_string(header_len) + " runs past the end of the file (" +
           std::to_string(file_size) + " bytes)");
  if (header_len == 0) f.fail("empty header");

  std::string text(header_len, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(header_len)))
    f.fail("cannot read the header");
  f.data_start_ = 8 + header_len;
  const std::uint64_t data_size = file_size - f.data_start_;

  // nlohmann keeps the last of two equal keys silently; a checkpoint with two values for one
  // tensor is corrupt, so track the keys of every open object while parsing.
  // The format pads the header with spaces; a NUL (and whatever follows it) is not JSON that
  // another reader would parse the same way.
  const std::size_t nul = text.find('\0');
  if (nul != std::string::npos)
    f.fail("header holds a NUL byte at offset " + std::to_string(nul) +
           " (the format pads the header with spaces only)");
  // nlohmann keeps the last of two equal keys silently (a checkpoint with two values for one
  // tensor is corrupt), and its objects are unordered. A SAX pass finds both, in linear time: a
  // DOM parse with a callback is quadratic in the entries (each object's end walks its parent).
  KeyScan scan;
  try {
    Json::sax_parse(text, &scan);
  } catch (const nlohmann::json::exception&) {
    // Reported by the DOM parse below, with the byte position.
  }
  const std::string& duplicate = scan.duplicate;
  const std::vector<std::string>& order = scan.order;
  Json header;
  try {
    header = Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // The byte position, not the library's error code and the raw bytes it quotes.
    const auto* pe = dynamic_cast<const nlohmann::json::parse_error*>(&e);
    f.fail(
        "header is not valid JSON" +
        (pe ? " (error at byte " + std::to_string(pe->byte) + " of the header)" : std::string()));
  }
  if (!duplicate.empty()) f.fail("duplicate key '" + printable(duplicate) + "' in the header");
  if (!header.is_object()) f.fail("header is a JSON " + json_type(header) + ", not an object");

  if (order.size() != header.size()) f.fail("header keys could not be read in order");
  for (const std::string& name : order) {
    const Json& v = header[name];
    if (name == kMetadataKey) {
      if (!v.is_object()) f.fail("__metadata__ is a " + json_type(v) + ", not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          f.fail("__metadata__ value '" + printable(m.key()) + "' is a " + json_type(m.value()) +
                 ", not a string");
        f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + printable(name) + "'";
    if (!v.is_object()) f.fail(where + " is a " + json_type(v) + ", not an object");
    SafetensorsEntry e;
    e.name = name;

    const auto dt = v.find("dtype");
    if (dt == v.end()) f.fail(where + " has no \"dtype\"");
    if (!dt->is_string()) f.fail(where + " has a \"dtype\" that is not a string");
    const std::string dtype_text = dt->get<std::string>();
    if (!parse_dtype_name(dtype_text, e.dtype))
      f.fail(where + " has unsupported dtype '" + printable(dtype_text) +
             "' (supported: F32, F16, BF16, F64, I32)");

    const auto sh = v.find("shape");
    if (sh == v.end()) f.fail(where + " has no \"shape\"");
    if (!sh->is_array()) f.fail(where + " has a \"shape\" that is not an array");
    if (sh->size() > 4)
      f.fail(where + " has " + std::to_string(sh->size()) + " dimensions (at most 4)");
    std::uint64_t numel = 1;
    for (const Json& d : *sh) {
      if (!d.is_number_unsigned()) f.fail(where + " has a shape entry that is not an integer >= 0");
      const std::uint64_t dim = d.get<std::uint64_t>();
      // Bounded so that numel * element size cannot overflow below.
      if (dim != 0 && numel > (std::uint64_t{1} << 60) / dim) f.fail(where + " shape is too large");
      numel *= dim;
      e.shape.push_back(static_cast<std::int64_t>(dim));
    }

    const auto off = v.find("data_offsets");
    if (off == v.end()) f.fail(where + " has no \"data_offsets\"");
    if (!off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      f.fail(where + " has \"data_offsets\" that are not two integers >= 0");
    e.begin = (*off)[0].get<std::uint64_t>();
    e.end = (*off)[1].get<std::uint64_t>();
    if (e.begin > e.end || e.end > data_size)
      f.fail(where + " has data_offsets [" + std::to_string(e.begin) + ", " +
             std::to_string(e.end) + "] outside the data buffer of " + std::to_string(data_size) +
             " bytes");
    const std::uint64_t expected = numel * dtype_size(e.dtype);
    if (e.end - e.begin != expected)
      f.fail(where + " spans " + std::to_string(e.end - e.begin) + " bytes, but " + dtype_text +
             " " + std::to_string(numel) + " elements need " + std::to_string(expected));
    f.index_[name] = f.entries_.size();
    f.entries_.push_back(std::move(e));
  }

  // Two tensors sharing bytes would alias after loading; the format forbids it.
  std::vector<const SafetensorsEntry*> by_offset;
  for (const auto& e : f.entries_)
    if (e.end > e.begin) by_offset.push_back(&e);
  std::sort(
      by_offset.begin(), by_offset.end(),
      [](const SafetensorsEntry* a, const SafetensorsEntry* b) { return a->begin < b->begin; });
  for (std::size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end)
      f.fail("tensors '" + printable(by_offset[i - 1]->name) + "' and '" +
             printable(by_offset[i]->name) + "' have overlapping data_offsets");
  // The format also forbids holes between tensors and bytes after the last one: the tensors
  // tile the data buffer exactly.
  std::uint64_t covered = 0;
  for (const SafetensorsEntry* e : by_offset) {
    if (e->begin > covered)
      f.fail("bytes [" + std::to_string(covered) + ", " + std::to_string(e->begin) +
             ") of the data buffer belong to no tensor (a hole before '" + printable(e->name) +
             "')");
    covered = e->end;
  }
  if (covered != data_size)
    f.fail(std::to_string(data_size - covered) + " bytes after the last tensor's data (the " +
           "data buffer is " + std::to_string(data_size) + " bytes)");
  return f;
}

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

void SafetensorsFile::read(const std::string& name, void* dst, std::size_t bytes) const {
  const SafetensorsEntry* e = find(name);
  if (!e) fail("no tensor '" + printable(name) + "'");
  read(*e, dst, bytes);
}

void SafetensorsFile::read(const SafetensorsEntry& e, void* dst, std::size_t bytes) const {
  if (bytes != e.nbytes())
    fail("tensor '" + printable(e.name) + "' has " + std::to_string(e.nbytes()) +
         " bytes, asked to read " + std::to_string(bytes));
  if (bytes == 0) return;
  std::ifstream& in = *stream_;
  in.clear();
  in.seekg(static_cast<std::streamoff>(data_start_ + e.begin));
  // The size was validated at open; a short read means the file changed under us.
  if (!in.read(static_cast<char*>(dst), static_cast<std::streamsize>(bytes)))
    fail("tensor '" + printable(e.name) + "' is truncated (file changed since it was opened?)");
}

FileDigest save_safetensors(const std::string& path,
                            const std::vector<std::pair<std::string, Tensor>>& entries,
                            const std::map<std::string, std::string>& metadata) {
  auto fail = [&](const std::string& what) { throw Error("safetensors '" + path + "': " + what); };
  // The writer keeps the order given (ordered_json): the header lists tensors as the data does.
  using OrderedJson = nlohmann::ordered_json;
  OrderedJson header = OrderedJson::object();
  if (!metadata.empty()) {
    OrderedJson meta = OrderedJson::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header[kMetadataKey] = std::move(meta);
  }
  std::set<std::string> seen;
  std::uint64_t offset = 0;
  for (const auto& [name, t] : entries) {
    if (name.empty()) fail("empty tensor name");
    if (name == kMetadataKey) fail("a tensor cannot be named __metadata__");
    if (!seen.insert(name).second) fail("tensor '" + name + "' given twice");
    if (!t.defined()) fail("tensor '" + name + "' is undefined");
    if (t.device().is_meta())
      fail("tensor '" + name + "' is on the meta device, which holds no data to save");
    OrderedJson shape = OrderedJson::array();
    for (std::int64_t d : t.shape().vec()) shape.push_back(d);
    header[name] = {{"dtype", safetensors_dtype_name(t.dtype())},
                    {"shape", std::move(shape)},
                    {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  std::string text = header.dump();
  // Padding keeps the data buffer 8-byte aligned in the file, so a mapped file can be read in
  // place.
  text.append((8 - text.size() % 8) % 8, ' ');

  AtomicFile file(path);
  unsigned char len_bytes[8];
  std::uint64_t n = text.size();
  for (int i = 0; i < 8; ++i, n >>= 8) len_bytes[i] = static_cast<unsigned char>(n & 0xff);
  file.write(len_bytes, 8);
  file.write(text);
  std::vector<unsigned char> host;
  for (const auto& [name, t] : entries) {
    host.resize(t.nbytes());
    t.copy_to_host(host.data(), host.size());
    file.write(host.data(), host.size());
  }
  file.commit();
  return file.digest();
}

}  // namespace cugpt
