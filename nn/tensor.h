// Tensor: a contiguous row-major array in an arena block. Copies share the block; the block is
// returned to the arena when the last copy goes. On the meta device a tensor has a shape, a
// dtype and a block (so byte accounting is exact) but no data: touching its data throws.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "kernels/dtype.h"
#include "nn/arena.h"
#include "nn/shape.h"

namespace cugpt {

class Tensor {
 public:
  Tensor() = default;  // undefined: no storage

  static Tensor empty(const std::shared_ptr<Arena>& arena, const Shape& shape, DType dtype,
                      Category category, Placement placement = Placement::by_category);
  static Tensor zeros(const std::shared_ptr<Arena>& arena, const Shape& shape, DType dtype,
                      Category category);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return shape_.ndim(); }
  std::int64_t size(int dim) const { return shape_[dim]; }
  std::int64_t numel() const { return shape_.numel(); }
  DType dtype() const { return dtype_; }
  Device device() const;
  Category category() const;
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype_); }
  // Bytes the arena reserved for the storage (aligned): what the allocator statistics count.
  std::size_t allocated_bytes() const;
  Arena& arena() const;
  const std::shared_ptr<Arena>& arena_ptr() const;

  // Raw data; throws on meta or for an undefined tensor. Device pointer on cuda.
  void* data();
  const void* data() const;
  // Typed host access (cpu only); the element type must match the dtype's size and kind.
  template <typename T>
  T* data_as();
  template <typename T>
  const T* data_as() const;

  // Host <-> tensor copies of exactly nbytes() bytes in this tensor's dtype.
  void copy_from_host(const void* src, std::size_t bytes);
  void copy_to_host(void* dst, std::size_t bytes) const;
  // Converting copies through f32, for any dtype.
  void copy_from_floats(const std::vector<float>& values);
  std::vector<float> to_floats() const;
  // Device-to-device copy from a tensor of the same shape, dtype and device.
  void copy_from(const Tensor& src);

  void fill(double value);
  void zero() { fill(0.0); }

  // Same storage, another shape with the same element count.
  Tensor view(const Shape& shape) const;
  bool shares_storage(const Tensor& other) const { return storage_ == other.storage_; }
  const void* storage_id() const { return storage_.get(); }

 private:
  struct Storage;
  void require_data(const char* what) const;

  std::shared_ptr<Storage> storage_;
  Shape shape_;
  DType dtype_ = DType::f32;
};

}  // namespace cugpt
