#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "kernels/error.h"
#include "tests/temp_dir_test.h"

namespace cugpt {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards, so tests can look for stray temporaries.
class IoTest : public TempDirTest {};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Builds a safetensors file by hand: header length (little-endian), header text, data.
std::string st_bytes(const std::string& header, std::size_t data_bytes, std::uint64_t length) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  return out + header + std::string(data_bytes, '\x01');
}
std::string st_bytes(const std::string& header, std::size_t data_bytes) {
  return st_bytes(header, data_bytes, header.size());
}

// The error message of opening `path`, or "" when it opens.
std::string open_error(const std::string& path) {
  try {
    SafetensorsFile::open(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST_F(IoTest, AtomicWriteReplacesAndLeavesNoTemporary) {
  write_file_atomic(path("a.bin"), "old");
  write_file_atomic(path("a.bin"), std::string("new contents"));
  EXPECT_EQ(read_all(path("a.bin")), "new contents");
  EXPECT_EQ(listing(), std::vector<std::string>{"a.bin"});
}

TEST_F(IoTest, ExceptionBeforeCommitKeepsOldFileAndRemovesTemporary) {
  write_file_atomic(path("a.bin"), "old");
  std::string temp;
  try {
    AtomicFile f(path("a.bin"));
    temp = f.temp_path();
    f.write(std::string(3 << 20, 'x'));  // past the buffer: bytes really reach the temporary
    EXPECT_TRUE(fs::exists(temp));
    EXPECT_EQ(temp.rfind(path("a.bin") + ".tmp.", 0), 0u);
    throw std::runtime_error("interrupted");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_EQ(read_all(path("a.bin")), "old");
  EXPECT_EQ(listing(), std::vector<std::string>{"a.bin"});
}

TEST_F(IoTest, WriteAfterCommitIsAnError) {
  AtomicFile f(path("a.bin"));
  f.write("abc");
  f.commit();
  EXPECT_THROW(f.write("d"), Error);
  EXPECT_EQ(read_all(path("a.bin")), "abc");
}

TEST_F(IoTest, UnwritableDirectoryIsAClearError) {
  const std::string bad = path("no_such_dir") + "/x.safetensors";
  try {
    AtomicFile f(bad);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot write '" + bad + "': No such file or directory");
  }
}

class SafetensorsTest : public IoTest {
 protected:
  std::shared_ptr<Arena> arena_ = Arena::create(Device::cpu(), 64 << 20);
  Tensor make(const Shape& shape, DType dtype, float start) {
    Tensor t = Tensor::empty(arena_, shape, dtype, Category::parameter);
    std::vector<float> v(static_cast<std::size_t>(t.numel()));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = start + 0.25f * static_cast<float>(i) - 3.0f;
    t.copy_from_floats(v);
    return t;
  }
  void write_raw(const std::string& name, const std::string& bytes) {
    std::ofstream(path(name), std::ios::binary) << bytes;
  }
};

TEST_F(SafetensorsTest, RoundTripKeepsValuesOrderAndMetadata) {
  const Tensor a = make({3, 5}, DType::f32, 1.0f);
  const Tensor b = make({7}, DType::f16, 2.0f);
  const Tensor c = make({2, 3, 2}, DType::bf16, -4.0f);
  const Tensor d = make({1, 1, 2, 2}, DType::f64, 0.5f);
  const Tensor s = make({}, DType::f32, 9.0f);  // a scalar: shape []
  // Not alphabetical: entries() must keep the written order.
  save_safetensors(path("m.safetensors"),
                   {{"zeta", a}, {"beta", b}, {"alpha", c}, {"d", d}, {"s", s}},
                   {{"format", "pt"}, {"note", "hello"}});
  EXPECT_EQ(listing(), std::vector<std::string>{"m.safetensors"});

  const std::string raw = read_all(path("m.safetensors"));
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(raw[i]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(raw.size(), 8 + n + a.nbytes() + b.nbytes() + c.nbytes() + d.nbytes() + s.nbytes());

  const SafetensorsFile f = SafetensorsFile::open(path("m.safetensors"));
  ASSERT_EQ(f.entries().size(), 5u);
  EXPECT_EQ(f.entries()[0].name, "zeta");
  EXPECT_EQ(f.entries()[1].name, "beta");
  EXPECT_EQ(f.entries()[2].name, "alpha");
  EXPECT_EQ(f.entries()[2].dtype, DType::bf16);
  EXPECT_EQ(f.entries()[2].shape, (std::vector<std::int64_t>{2, 3, 2}));
  EXPECT_EQ(f.entries()[1].begin, a.nbytes());
  EXPECT_TRUE(f.entries()[4].shape.empty());
  EXPECT_EQ(f.data_start(), 8 + n);
  EXPECT_EQ(f.metadata(),
            (std::map<std::string, std::string>{{"format", "pt"}, {"note", "hello"}}));

  for (const auto& [name, t] : std::vector<std::pair<std::string, Tensor>>{
           {"zeta", a}, {"beta", b}, {"alpha", c}, {"d", d}, {"s", s}}) {
    const SafetensorsEntry* e = f.find(name);
    ASSERT_NE(e, nullptr) << name;
    Tensor back = Tensor::empty(arena_, Shape(e->shape), e->dtype, Category::parameter);
    std::vector<unsigned char> host(e->nbytes());
    f.read(name, host.data(), host.size());
    back.copy_from_host(host.data(), host.size());
    EXPECT_EQ(back.to_floats(), t.to_floats()) << name;
  }
  EXPECT_EQ(f.find("nothing"), nullptr);
}

TEST_F(SafetensorsTest, ReadChecksNameAndSize) {
  save_safetensors(path("m.safetensors"), {{"w", make({4}, DType::f32, 0)}});
  const SafetensorsFile f = SafetensorsFile::open(path("m.safetensors"));
  std::vector<unsigned char> buf(16);
  EXPECT_THROW(f.read("w", buf.data(), 8), Error);
  EXPECT_THROW(f.read("x", buf.data(), 16), Error);
  EXPECT_TRUE(f.metadata().empty());
}

TEST_F(SafetensorsTest, SaveRejectsMetaTensorsAndBadNames) {
  auto meta = Arena::create(Device::meta(), 1 << 20);
  const Tensor m = Tensor::empty(meta, {4}, DType::f32, Category::parameter);
  try {
    save_safetensors(path("m.safetensors"), {{"w", m}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'w' is on the meta device"), std::string::npos);
  }
  const Tensor t = make({2}, DType::f32, 0);
  EXPECT_THROW(save_safetensors(path("m.safetensors"), {{"w", t}, {"w", t}}), Error);
  EXPECT_THROW(save_safetensors(path("m.safetensors"), {{"__metadata__", t}}), Error);
  EXPECT_THROW(save_safetensors(path("m.safetensors"), {{"", t}}), Error);
  EXPECT_TRUE(listing().empty());  // no file, no temporary
}

TEST_F(SafetensorsTest, RejectsMalformedFiles) {
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  write_raw("ok", st_bytes(ok, 8));
  EXPECT_EQ(open_error(path("ok")), "");

  struct Case {
    const char* name;
    std::string bytes;
    const char* expected;  // a substring of the message
  };
  const std::vector<Case> cases = {
      {"short", std::string("\x05\x00\x00", 3), "shorter than the 8-byte header length"},
      {"beyond", st_bytes(ok, 8, 4096), "runs past the end of the file"},
      {"absurd", st_bytes(ok, 8, 1ull << 40), "is absurd"},
      {"empty", st_bytes("", 8), "empty header"},
      {"json", st_bytes(R"({"a":{"dtype":"F32",)", 8), "header is not valid JSON"},
      {"array", st_bytes("[1, 2]", 8), "not an object"},
      {"entry", st_bytes(R"({"a":3})", 8), "tensor 'a' is a number, not an object"},
      {"nodtype", st_bytes(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", 8), "has no \"dtype\""},
      {"intdtype", st_bytes(R"({"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", 8),
       "\"dtype\" that is not a string"},
      {"noshape", st_bytes(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", 8), "has no \"shape\""},
      {"negshape", st_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
       "shape entry that is not an integer"},
      {"fiveD", st_bytes(R"({"a":{"dtype":"F32","shape":[1,1,1,1,2],"data_offsets":[0,8]}})", 8),
       "5 dimensions (at most 4)"},
      {"nooffsets", st_bytes(R"({"a":{"dtype":"F32","shape":[2]}})", 8), "no \"data_offsets\""},
      {"offsets3", st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}})", 8),
       "not two integers"},
      {"range", st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", 8),
       "tensor 'a' has data_offsets [8, 16] outside the data buffer of 8 bytes"},
      {"reversed", st_bytes(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8),
       "outside the data buffer"},
      {"size", st_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 12),
       "tensor 'a' spans 8 bytes, but F32 3 elements need 12"},
      {"overlap",
       st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                R"("b":{"dtype":"F16","shape":[2],"data_offsets":[6,10]}})",
                12),
       "tensors 'a' and 'b' have overlapping data_offsets"},
      {"dtype", st_bytes(R"({"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8),
       "tensor 'a' has unsupported dtype 'I64'"},
      {"duplicate",
       st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                R"("a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                16),
       "duplicate key 'a'"},
      {"dupfield",
       st_bytes(R"({"a":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}})", 8),
       "duplicate key 'dtype'"},
      {"metadata", st_bytes(R"({"__metadata__":{"step":3}})", 0),
       "__metadata__ value 'step' is a number, not a string"},
  };
  for (const auto& c : cases) {
    write_raw(c.name, c.bytes);
    const std::string msg = open_error(path(c.name));
    EXPECT_NE(msg.find(c.expected), std::string::npos) << c.name << ": '" << msg << "'";
    // One line that names the file.
    EXPECT_EQ(msg.rfind("safetensors '" + path(c.name) + "': ", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST_F(SafetensorsTest, RejectsAFileCutShort) {
  save_safetensors(path("m.safetensors"),
                   {{"a", make({4}, DType::f32, 0)}, {"b", make({3}, DType::f32, 0)}});
  const std::string raw = read_all(path("m.safetensors"));
  write_raw("cut.safetensors", raw.substr(0, raw.size() - 2));
  const std::string msg = open_error(path("cut.safetensors"));
  EXPECT_NE(msg.find("tensor 'b' has data_offsets [16, 28] outside the data buffer of 26 bytes"),
            std::string::npos)
      << msg;
  write_raw("cut2.safetensors", raw.substr(0, 20));  // inside the header
  EXPECT_NE(open_error(path("cut2.safetensors")).find("runs past the end of the file"),
            std::string::npos);
}

TEST_F(SafetensorsTest, MissingFileIsAnError) {
  const std::string msg = open_error(path("absent.safetensors"));
  EXPECT_NE(msg.find("cannot open"), std::string::npos) << msg;
}

}  // namespace
}  // namespace cugpt
