#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "io/npy.h"
#include "kernels/error.h"
#include "tests/temp_dir_test.h"

namespace cugpt {
namespace {

namespace fs = std::filesystem;

class NpyTest : public TempDirTest {
 protected:
  std::string read_all(const std::string& name) const {
    std::ifstream in(path(name), std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  void write_raw(const std::string& name, const std::string& bytes) const {
    std::ofstream(path(name), std::ios::binary) << bytes;
  }
  std::string read_error(const std::string& name) const {
    try {
      read_npy(path(name));
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
};

// A version 1.0 file around a header dict, padded as numpy pads it.
std::string npy_bytes(const std::string& dict, const std::string& data) {
  std::string header = dict;
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

TEST_F(NpyTest, FloatRoundTrip) {
  std::vector<float> v(30);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.5f * static_cast<float>(i) - 7.25f;
  write_npy(path("a.npy"), v.data(), {2, 3, 5});
  const NpyArray a = read_npy(path("a.npy"));
  EXPECT_EQ(a.descr, "<f4");
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 3, 5}));
  EXPECT_EQ(a.numel(), 30);
  EXPECT_EQ(a.as_floats(), v);
  EXPECT_EQ(std::vector<std::string>{fs::directory_iterator(dir_)->path().filename()},
            std::vector<std::string>{"a.npy"});
}

TEST_F(NpyTest, HeaderLayoutIsNumpyVersion1) {
  std::vector<float> v(30, 1.0f);
  write_npy(path("a.npy"), v.data(), {2, 3, 5});
  const std::string raw = read_all("a.npy");
  ASSERT_GE(raw.size(), 10u);
  EXPECT_EQ(raw.substr(0, 6), std::string("\x93NUMPY", 6));
  EXPECT_EQ(raw[6], 1);  // major
  EXPECT_EQ(raw[7], 0);  // minor
  const std::size_t len = static_cast<unsigned char>(raw[8]) |
                          (static_cast<std::size_t>(static_cast<unsigned char>(raw[9])) << 8);
  EXPECT_EQ((10 + len) % 64, 0u);
  ASSERT_EQ(raw.size(), 10 + len + 30 * 4);
  const std::string header = raw.substr(10, len);
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 5), }";
  EXPECT_EQ(header.substr(0, dict.size()), dict);
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(header.find_first_not_of(' ', dict.size()), len - 1);
  float first;
  std::memcpy(&first, raw.data() + 10 + len, 4);
  EXPECT_EQ(first, 1.0f);
}

TEST_F(NpyTest, TupleSyntaxForOneAndZeroDimensions) {
  const float x[7] = {1, 2, 3, 4, 5, 6, 7};
  write_npy(path("v.npy"), x, {7});
  EXPECT_NE(read_all("v.npy").find("'shape': (7,), }"), std::string::npos);
  write_npy(path("s.npy"), x, {});
  EXPECT_NE(read_all("s.npy").find("'shape': (), }"), std::string::npos);
  const NpyArray s = read_npy(path("s.npy"));
  EXPECT_TRUE(s.shape.empty());
  EXPECT_EQ(s.as_floats(), std::vector<float>{1.0f});
  write_npy(path("e.npy"), x, {3, 0});
  EXPECT_TRUE(read_npy(path("e.npy")).data.empty());
}

TEST_F(NpyTest, DoubleAndInt32RoundTrip) {
  const double d[4] = {1.0, -2.5, 1e-300, 3.0};
  write_npy(path("d.npy"), d, {2, 2});
  const NpyArray a = read_npy(path("d.npy"));
  EXPECT_EQ(a.descr, "<f8");
  ASSERT_EQ(a.data.size(), sizeof(d));
  EXPECT_EQ(std::memcmp(a.data.data(), d, sizeof(d)), 0);

  const std::int32_t i[3] = {-7, 0, 50257};
  write_npy(path("i.npy"), i, {3});
  const NpyArray b = read_npy(path("i.npy"));
  EXPECT_EQ(b.descr, "<i4");
  EXPECT_EQ(b.as_floats(), (std::vector<float>{-7.0f, 0.0f, 50257.0f}));
}

TEST_F(NpyTest, ReadsInt64AndNumpyStyleVariants) {
  const std::int64_t v[2] = {-3, 1ll << 40};
  // Double quotes, keys in another order, no trailing comma: still a valid Python dict.
  write_raw("a.npy", npy_bytes(R"({"shape": (2,), "fortran_order": False, "descr": "<i8"})",
                               std::string(reinterpret_cast<const char*>(v), sizeof(v))));
  const NpyArray a = read_npy(path("a.npy"));
  EXPECT_EQ(a.descr, "<i8");
  EXPECT_EQ(a.as_floats(), (std::vector<float>{-3.0f, static_cast<float>(1ll << 40)}));
}

TEST_F(NpyTest, RejectsMalformedFiles) {
  const std::string data(24, '\0');  // six f4 values
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  write_raw("ok.npy", npy_bytes(ok, data));
  EXPECT_EQ(read_error("ok.npy"), "");

  std::vector<float> v(6, 1.0f);
  write_npy(path("w.npy"), v.data(), {2, 3});
  const std::string good = read_all("w.npy");

  struct Case {
    const char* name;
    std::string bytes;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"truncated_data", good.substr(0, good.size() - 3),
       "truncated data: 21 bytes, shape needs 24"},
      {"truncated_header", good.substr(0, 40), "truncated header"},
      {"tiny", good.substr(0, 5), "bad magic"},
      {"magic", "\x93NUMPX" + good.substr(6), "bad magic"},
      {"version", good.substr(0, 6) + '\x07' + good.substr(7), "unsupported format version 7.0"},
      {"extra_data", good + "1234", "data size mismatch: 28 bytes, shape needs 24"},
      {"fortran", npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data),
       "fortran_order"},
      {"big_endian", npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", data),
       "big-endian"},
      {"dtype", npy_bytes("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", data),
       "unsupported dtype '<c8'"},
      {"syntax", npy_bytes("{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3), }", data),
       "bad header"},
      {"missing_key", npy_bytes("{'descr': '<f4', 'shape': (2, 3), }", data), "header lacks"},
      {"unknown_key",
       npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", data),
       "unexpected key 'x'"},
      {"negative", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-6,), }", data),
       "non-negative integer"},
      {"huge",
       npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000000, "
                 "1000000000), }",
                 data),
       "truncated data"},
  };
  for (const auto& c : cases) {
    write_raw(c.name, c.bytes);
    const std::string msg = read_error(c.name);
    EXPECT_NE(msg.find(c.expected), std::string::npos) << c.name << ": '" << msg << "'";
    EXPECT_EQ(msg.rfind("npy '" + path(c.name) + "': ", 0), 0u) << msg;
  }
  EXPECT_NE(read_error("absent.npy").find("cannot open"), std::string::npos);
}

TEST_F(NpyTest, UnwritablePathIsAClearError) {
  const float x = 1.0f;
  const std::string bad = path("no_dir") + "/a.npy";
  try {
    write_npy(bad, &x, {1});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot write '" + bad + "': No such file or directory");
  }
}

}  // namespace
}  // namespace cugpt
