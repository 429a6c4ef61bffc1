#include "kernels/embedding.h"
#include "kernels/error.h"

namespace cugpt::kernels {

namespace {
// Sequential scatter-add: a token id repeated in the batch adds all its rows, in order.
template <typename T>
void embed_backward(const EmbeddingArgs& a, const T* dout, T* dwte, T* dwpe, T* dwtt) {
  CUGPT_CHECK(a.B >= 0 && a.T >= 0 && a.C > 0, "embedding_backward: bad sizes");
  const std::size_t C = static_cast<std::size_t>(a.C);
  for (std::size_t i = 0; i < static_cast<std::size_t>(a.B) * a.T; ++i) {
    const T* g = dout + i * C;
    T* tok = dwte + static_cast<std::size_t>(a.tokens[i]) * C;
    T* pos = dwpe + static_cast<std::size_t>(a.positions[i]) * C;
    for (std::size_t c = 0; c < C; ++c) {
      tok[c] += g[c];
      pos[c] += g[c];
    }
    if (dwtt) {
      T* type = dwtt + static_cast<std::size_t>(a.token_types ? a.token_types[i] : 0) * C;
      for (std::size_t c = 0; c < C; ++c) type[c] += g[c];
    }
  }
}
}  // namespace

void embedding_backward_cpu(const EmbeddingArgs& a, const float* dout, float* dwte, float* dwpe,
                            float* dwtt) {
  embed_backward(a, dout, dwte, dwpe, dwtt);
}

void embedding_backward_cpu(const EmbeddingArgs& a, const double* dout, double* dwte, double* dwpe,
                            double* dwtt) {
  embed_backward(a, dout, dwte, dwpe, dwtt);
}

}  // namespace cugpt::kernels
