// A tensor shape: up to four dimensions, printed as PyTorch prints it ("[52000, 768]").
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace cugpt {

class Shape {
 public:
  static constexpr int kMaxDims = 4;

  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims);
  explicit Shape(const std::vector<std::int64_t>& dims);

  int ndim() const { return ndim_; }
  // Negative indices count from the end, as in PyTorch.
  std::int64_t operator[](int i) const;
  std::int64_t numel() const;
  std::vector<std::int64_t> vec() const { return {dims_.begin(), dims_.begin() + ndim_}; }
  std::string str() const;

  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }

 private:
  void check() const;
  std::array<std::int64_t, kMaxDims> dims_{};
  int ndim_ = 0;
};

}  // namespace cugpt
