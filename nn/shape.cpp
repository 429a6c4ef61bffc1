#include "nn/shape.h"

#include "kernels/error.h"

namespace cugpt {

Shape::Shape(std::initializer_list<std::int64_t> dims) : Shape(std::vector<std::int64_t>(dims)) {}

Shape::Shape(const std::vector<std::int64_t>& dims) {
  if (dims.size() > static_cast<std::size_t>(kMaxDims))
    throw Error("shape has " + std::to_string(dims.size()) + " dimensions (at most 4)");
  ndim_ = static_cast<int>(dims.size());
  for (int i = 0; i < ndim_; ++i) dims_[i] = dims[i];
  check();
}

void Shape::check() const {
  for (int i = 0; i < ndim_; ++i)
    if (dims_[i] < 0) throw Error("shape " + str() + " has a negative dimension");
  // Guard the element count against overflow: no tensor here comes near 2^62 elements.
  std::int64_t n = 1;
  for (int i = 0; i < ndim_; ++i) {
    if (dims_[i] != 0 && n > (std::int64_t{1} << 62) / dims_[i])
      throw Error("shape " + str() + " is too large");
    n *= dims_[i];
  }
}

std::int64_t Shape::operator[](int i) const {
  const int j = i < 0 ? i + ndim_ : i;
  if (j < 0 || j >= ndim_)
    throw Error("dimension " + std::to_string(i) + " out of range for shape " + str());
  return dims_[j];
}

std::int64_t Shape::numel() const {
  std::int64_t n = 1;
  for (int i = 0; i < ndim_; ++i) n *= dims_[i];
  return n;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < ndim_; ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[i]);
  }
  return s + "]";
}

bool Shape::operator==(const Shape& o) const {
  if (ndim_ != o.ndim_) return false;
  for (int i = 0; i < ndim_; ++i)
    if (dims_[i] != o.dims_[i]) return false;
  return true;
}

}  // namespace cugpt
