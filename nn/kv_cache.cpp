#include "nn/kv_cache.h"

namespace cugpt {

KvCache::KvCache(const std::shared_ptr<Arena>& arena, std::int64_t n_layer, std::int64_t batch,
                 std::int64_t t_max, std::int64_t n_embd, DType dtype)
    : batch_(batch), t_max_(t_max) {
  for (std::int64_t l = 0; l < n_layer; ++l) {
    k_.push_back(Tensor::empty(arena, {batch, t_max, n_embd}, dtype, Category::kv_cache));
    v_.push_back(Tensor::empty(arena, {batch, t_max, n_embd}, dtype, Category::kv_cache));
  }
}

void KvCache::advance(std::int64_t n) {
  if (length_ + n > t_max_)
    throw Error("KV cache of " + std::to_string(t_max_) + " positions is full");
  length_ += n;
}

}  // namespace cugpt
