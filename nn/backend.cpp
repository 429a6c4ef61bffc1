#include "nn/backend.h"

#include <string>

#include "nn/backend_util.h"

namespace cugpt {

const Backend* byte_backend(const Tensor& x) {
  const Device& d = x.device();
  if (d.is_meta()) return nullptr;
  return d.is_cuda() ? &cuda_backend() : &cpu_backend();
}

const Backend* backend_for(const char* op, const Tensor& x) {
  const Backend* b = byte_backend(x);
  if (b && !b->computes(x.dtype()))
    throw Error(std::string(op) + ": the " + b->device_name() + " device computes in " +
                b->dtypes() + ", not " + dtype_name(x.dtype()));
  return b;
}

namespace detail {

int as_int(std::int64_t v, const char* what) {
  if (v > (1ll << 31) - 1) throw Error(std::string(what) + " too large for a kernel launch");
  return static_cast<int>(v);
}

Tensor like(const Tensor& x, const Shape& shape) {
  return like(x, shape, x.dtype());
}

Tensor like(const Tensor& x, const Shape& shape, DType dtype) {
  return Tensor::empty(x.arena_ptr(), shape, dtype, Category::activation);
}

Tensor workspace(const Tensor& x, std::int64_t n, DType dtype) {
  return Tensor::empty(x.arena_ptr(), {n}, dtype, Category::workspace);
}

kernels::CacheWriteArgs cache_write_args(Tensor& cache, const Tensor& src, std::int64_t col,
                                         const Tensor& past_device) {
  kernels::CacheWriteArgs a;
  a.B = as_int(src.size(0), "B");
  a.Tq = as_int(src.size(1), "Tq");
  a.C = as_int(cache.size(2), "C");
  a.src = src.data();
  a.src_stride = as_int(src.size(2), "src stride");
  a.src_col = as_int(col, "col");
  a.cache = cache.data();
  a.t_max = as_int(cache.size(1), "t_max");
  a.past = static_cast<const std::int32_t*>(past_device.data());
  a.elem_size = static_cast<int>(dtype_size(cache.dtype()));
  return a;
}

Tensor ids_on(const Tensor& x, const std::vector<std::int32_t>& ids) {
  Tensor t = Tensor::empty(x.arena_ptr(), {static_cast<std::int64_t>(ids.size())}, DType::i32,
                           Category::activation);
  if (!t.device().is_meta() && !ids.empty())
    t.copy_from_host(ids.data(), ids.size() * sizeof(std::int32_t));
  return t;
}

}  // namespace detail
}  // namespace cugpt
