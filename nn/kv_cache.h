// The KV cache of a decoder: per layer, keys and values of every position generated so far,
// (B, t_max, C) each, in the arena's kv_cache category. Sized once for the longest sequence the
// generation may reach, so decoding never allocates it again.
#pragma once

#include <vector>

#include "nn/tensor.h"

namespace cugpt {

class KvCache {
 public:
  KvCache(const std::shared_ptr<Arena>& arena, std::int64_t n_layer, std::int64_t batch,
          std::int64_t t_max, std::int64_t n_embd, DType dtype);

  const Tensor& k(std::size_t layer) const { return k_.at(layer); }
  const Tensor& v(std::size_t layer) const { return v_.at(layer); }
  std::int64_t batch() const { return batch_; }
  std::int64_t t_max() const { return t_max_; }
  // Positions already cached (before the tokens now being processed).
  std::int64_t length() const { return length_; }
  // Called once per forward, after every layer has written its new keys and values.
  void advance(std::int64_t n);

 private:
  std::vector<Tensor> k_, v_;
  std::int64_t batch_, t_max_, length_ = 0;
};

}  // namespace cugpt
