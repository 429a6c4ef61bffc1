// NumPy .npy files (format 1.0): activations, attention maps and golden data that a person opens
// with numpy.load. Little-endian, C order only: that is what every array here is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cugpt {

// Writes a C-order array through an AtomicFile: '<f4', '<f8' and '<i4' respectively. `shape`
// may have any number of dimensions (none: a scalar); data holds the product of them.
void write_npy(const std::string& path, const float* data, const std::vector<std::int64_t>& shape);
void write_npy(const std::string& path, const double* data, const std::vector<std::int64_t>& shape);
void write_npy(const std::string& path, const std::int32_t* data,
               const std::vector<std::int64_t>& shape);

struct NpyArray {
  std::string descr;  // "<f4", "<f8", "<i4" or "<i8"
  std::vector<std::int64_t> shape;
  std::vector<unsigned char> data;  // raw little-endian elements, C order

  std::int64_t numel() const;
  std::size_t element_size() const;
  // Every element converted to float (i8 and f8 lose precision beyond float's).
  std::vector<float> as_floats() const;
};

// Reads versions 1.x to 3.x. Throws cugpt::Error "npy '<path>': <problem>" for a bad magic,
// truncation, an unparsable header, another dtype, fortran order, or a data size mismatch.
NpyArray read_npy(const std::string& path);

}  // namespace cugpt
