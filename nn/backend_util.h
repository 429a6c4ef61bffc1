// Small helpers of nn/ops, nn/ops_backward and the backends: typed views of a tensor's data,
// allocation like an input, host ids on the device. Internal to nn/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/decode_state.h"
#include "kernels/error.h"
#include "nn/tensor.h"

namespace cugpt::detail {

template <typename T>
const T* in(const Tensor& t) {
  return static_cast<const T*>(t.data());
}
template <typename T>
T* out(Tensor& t) {
  return static_cast<T*>(t.data());
}
template <typename T>
const T* in_or_null(const Tensor* t) {
  return t ? in<T>(*t) : nullptr;
}
template <typename T>
T* out_or_null(Tensor* t) {
  return t ? out<T>(*t) : nullptr;
}
inline void* ptr_or_null(Tensor* t) {
  return t ? t->data() : nullptr;
}
inline const void* ptr_or_null(const Tensor* t) {
  return t ? t->data() : nullptr;
}
// Element `elements` of t as a device or host address.
inline const void* at(const Tensor& t, std::int64_t elements) {
  return static_cast<const char*>(t.data()) +
         elements * static_cast<std::int64_t>(dtype_size(t.dtype()));
}
inline void* at(Tensor& t, std::int64_t elements) {
  return static_cast<char*>(t.data()) + elements * static_cast<std::int64_t>(dtype_size(t.dtype()));
}

// Runs f(float{}) or f(double{}) for a dtype the cpu backend computes in (already checked).
template <typename F>
void by_dtype(DType t, F&& f) {
  if (t == DType::f32) return f(float{});
  if (t == DType::f64) return f(double{});
  throw Error(std::string("the cpu device computes in f32 or f64, not ") + dtype_name(t));
}

// A kernel's int argument; throws when v does not fit.
int as_int(std::int64_t v, const char* what);

// An activation tensor beside x (its arena; its dtype unless told).
Tensor like(const Tensor& x, const Shape& shape);
Tensor like(const Tensor& x, const Shape& shape, DType dtype);
Tensor workspace(const Tensor& x, std::int64_t n, DType dtype);

// The arguments of a cache write (Backend::cache_write; shapes checked by ops::write_cache_at).
kernels::CacheWriteArgs cache_write_args(Tensor& cache, const Tensor& src, std::int64_t col,
                                         const Tensor& past_device);

// Host ids as an i32 tensor on x's device, allocated on every device (the data copied where
// there is memory): a meta run allocates what the cpu and cuda do.
Tensor ids_on(const Tensor& x, const std::vector<std::int32_t>& ids);

}  // namespace cugpt::detail
