// The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then
// the data buffer that the offsets index. The reader validates the whole header up front, so a
// corrupt or hostile file fails with one line naming the problem before any tensor is read, and
// it reads one tensor at a time at its offset: checkpoints can be larger than free host memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/atomic_file.h"
#include "kernels/dtype.h"
#include "nn/tensor.h"

namespace cugpt {

// "F32", "F16", "BF16", "F64": the format's names for the dtypes cugpt has.
const char* safetensors_dtype_name(DType t);

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;  // byte offsets into the data buffer (after the header)
  std::uint64_t end = 0;

  std::int64_t numel() const;
  std::uint64_t nbytes() const { return end - begin; }
};

class SafetensorsFile {
 public:
  // Opens and validates `path`. Throws cugpt::Error "safetensors '<path>': <problem>".
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return path_; }
  // In the order the header lists them.
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  // nullptr when there is no tensor of that name.
  const SafetensorsEntry* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // File offset of the data buffer: 8 + header length.
  std::uint64_t data_start() const { return data_start_; }

  // Copies the raw bytes of tensor `name` (exactly its byte size) into host memory at dst.
  // Not thread-safe: reads share one stream.
  void read(const std::string& name, void* dst, std::size_t bytes) const;
  void read(const SafetensorsEntry& entry, void* dst, std::size_t bytes) const;

 private:
  SafetensorsFile() = default;
  [[noreturn]] void fail(const std::string& what) const;

  std::string path_;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
  std::uint64_t data_start_ = 0;
  std::unique_ptr<std::ifstream> stream_;
};

// Writes `entries` (data offsets in the order given) through an AtomicFile. Tensors on cpu or
// cuda are copied to host one at a time; a meta tensor, an undefined tensor, an empty or
// repeated name, or the name "__metadata__" is an error. No metadata section when it is empty.
FileDigest save_safetensors(const std::string& path,
                            const std::vector<std::pair<std::string, Tensor>>& entries,
                            const std::map<std::string, std::string>& metadata = {});

}  // namespace cugpt
