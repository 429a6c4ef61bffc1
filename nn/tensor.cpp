#include "nn/tensor.h"

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/fill.h"
#include "kernels/runtime.h"

namespace cugpt {

struct Tensor::Storage {
  std::shared_ptr<Arena> arena;
  Block block;
  void* ptr;
  Storage(std::shared_ptr<Arena> a, Block b) : arena(std::move(a)), block(b) {
    ptr = arena->address(block);
  }
  ~Storage() {
    try {
      arena->free(block);
    } catch (...) {
      // A block the arena no longer knows cannot be returned; nothing else to do here.
    }
  }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

Tensor Tensor::empty(const std::shared_ptr<Arena>& arena, const Shape& shape, DType dtype,
                     Category category, Placement placement) {
  if (!arena) throw Error("Tensor::empty: no arena");
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  if (dtype == DType::f64 && arena->device().is_cuda())
    throw Error("f64 tensors exist on cpu and meta only (references), not on cuda");
  const Block block = arena->allocate(t.nbytes(), category, placement);
  t.storage_ = std::make_shared<Storage>(arena, block);
  return t;
}

Tensor Tensor::zeros(const std::shared_ptr<Arena>& arena, const Shape& shape, DType dtype,
                     Category category) {
  Tensor t = empty(arena, shape, dtype, category);
  if (!arena->device().is_meta()) t.zero();
  return t;
}

Device Tensor::device() const {
  return arena().device();
}

Category Tensor::category() const {
  if (!storage_) throw Error("undefined tensor has no category");
  return storage_->block.category;
}

std::size_t Tensor::allocated_bytes() const {
  return storage_ ? storage_->block.size : 0;
}

Arena& Tensor::arena() const {
  if (!storage_) throw Error("undefined tensor has no device");
  return *storage_->arena;
}

const std::shared_ptr<Arena>& Tensor::arena_ptr() const {
  if (!storage_) throw Error("undefined tensor has no device");
  return storage_->arena;
}

void Tensor::require_data(const char* what) const {
  if (!storage_) throw Error(std::string(what) + ": undefined tensor");
  if (storage_->arena->device().is_meta())
    throw Error(std::string(what) + ": tensor " + shape_.str() +
                " is on the meta device, which holds no data");
}

void* Tensor::data() {
  require_data("data");
  return storage_->ptr;
}

const void* Tensor::data() const {
  require_data("data");
  return storage_->ptr;
}

namespace {
template <typename T>
bool matches(DType d) {
  if (std::is_same_v<T, float>) return d == DType::f32;
  if (std::is_same_v<T, double>) return d == DType::f64;
  if (std::is_same_v<T, std::int32_t>) return d == DType::i32;
  if (std::is_same_v<T, std::uint16_t>) return d == DType::f16 || d == DType::bf16;
  return false;
}
}  // namespace

template <typename T>
T* Tensor::data_as() {
  return const_cast<T*>(static_cast<const Tensor*>(this)->data_as<T>());
}

template <typename T>
const T* Tensor::data_as() const {
  require_data("data_as");
  if (!device().is_cpu()) throw Error("data_as: typed host access needs a cpu tensor");
  if (!matches<T>(dtype_))
    throw Error(std::string("data_as: element type does not match dtype ") + dtype_name(dtype_));
  return static_cast<const T*>(storage_->ptr);
}

template float* Tensor::data_as<float>();
template const float* Tensor::data_as<float>() const;
template double* Tensor::data_as<double>();
template const double* Tensor::data_as<double>() const;
template std::int32_t* Tensor::data_as<std::int32_t>();
template const std::int32_t* Tensor::data_as<std::int32_t>() const;
template std::uint16_t* Tensor::data_as<std::uint16_t>();
template const std::uint16_t* Tensor::data_as<std::uint16_t>() const;

void Tensor::copy_from_host(const void* src, std::size_t bytes) {
  require_data("copy_from_host");
  if (bytes != nbytes())
    throw Error("copy_from_host: " + std::to_string(bytes) + " bytes for a tensor of " +
                std::to_string(nbytes()));
  if (bytes == 0) return;
  if (device().is_cuda()) {
    cuda_memcpy_h2d(storage_->ptr, src, bytes, current_stream());
  } else {
    std::memcpy(storage_->ptr, src, bytes);
  }
}

void Tensor::copy_to_host(void* dst, std::size_t bytes) const {
  require_data("copy_to_host");
  if (bytes != nbytes())
    throw Error("copy_to_host: " + std::to_string(bytes) + " bytes for a tensor of " +
                std::to_string(nbytes()));
  if (bytes == 0) return;
  if (device().is_cuda()) {
    cuda_memcpy_d2h(dst, storage_->ptr, bytes, current_stream());
  } else {
    std::memcpy(dst, storage_->ptr, bytes);
  }
}

void Tensor::copy_from_floats(const std::vector<float>& values) {
  if (static_cast<std::int64_t>(values.size()) != numel())
    throw Error("copy_from_floats: " + std::to_string(values.size()) + " values for a tensor of " +
                std::to_string(numel()));
  if (dtype_ == DType::f32) return copy_from_host(values.data(), nbytes());
  std::vector<unsigned char> buf(nbytes());
  const std::size_t es = dtype_size(dtype_);
  for (std::size_t i = 0; i < values.size(); ++i) store_scalar(dtype_, &buf[i * es], values[i]);
  copy_from_host(buf.data(), buf.size());
}

std::vector<float> Tensor::to_floats() const {
  std::vector<float> out(static_cast<std::size_t>(numel()));
  if (dtype_ == DType::f32) {
    copy_to_host(out.data(), nbytes());
    return out;
  }
  std::vector<unsigned char> buf(nbytes());
  copy_to_host(buf.data(), buf.size());
  const std::size_t es = dtype_size(dtype_);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<float>(load_scalar(dtype_, &buf[i * es]));
  return out;
}

void Tensor::copy_from(const Tensor& src) {
  if (src.shape_ != shape_ || src.dtype_ != dtype_ || src.device() != device())
    throw Error("copy_from: source " + src.shape_.str() + " " + dtype_name(src.dtype_) + " on " +
                src.device().str() + " does not match " + shape_.str() + " " + dtype_name(dtype_) +
                " on " + device().str());
  if (device().is_meta() || nbytes() == 0) return;
  if (device().is_cuda()) {
    cuda_memcpy_d2d(storage_->ptr, src.storage_->ptr, nbytes(), current_stream());
  } else {
    std::memmove(storage_->ptr, src.storage_->ptr, nbytes());
  }
}

void Tensor::fill(double value) {
  require_data("fill");
  std::uint64_t pattern = 0;
  store_scalar(dtype_, &pattern, value);  // little-endian: the element sits in the low bytes
  const std::size_t n = static_cast<std::size_t>(numel());
  if (device().is_cuda()) {
    kernels::fill_cuda(storage_->ptr, n, dtype_size(dtype_), pattern, current_stream());
  } else {
    kernels::fill_cpu(storage_->ptr, n, dtype_size(dtype_), pattern);
  }
}

Tensor Tensor::view(const Shape& shape) const {
  if (shape.numel() != numel())
    throw Error("view: shape " + shape.str() + " has " + std::to_string(shape.numel()) +
                " elements, tensor " + shape_.str() + " has " + std::to_string(numel()));
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

}  // namespace cugpt
