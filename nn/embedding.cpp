#include "nn/embedding.h"

namespace cugpt {

Embedding::Embedding(const std::shared_ptr<Arena>& arena, std::int64_t num, std::int64_t dim,
                     DType dtype) {
  weight_ =
      register_parameter("weight", Tensor::zeros(arena, {num, dim}, dtype, Category::parameter));
}

}  // namespace cugpt
