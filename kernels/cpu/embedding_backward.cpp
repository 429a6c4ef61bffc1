#include "kernels/cpu/threads.h"
#include "kernels/embedding.h"
#include "kernels/error.h"

namespace cugpt::kernels {

namespace {
// Scatter-add: a token id repeated in the batch adds all its rows, in order. The threads split
// the columns (fixed chunks): every element of every table row is then one thread's, summed in
// token order, so no two threads ever add into one element and the bits are a single thread's.
template <typename T>
void embed_backward(const EmbeddingArgs& a, const T* dout, T* dwte, T* dwpe, T* dwtt) {
  CUGPT_CHECK(a.B >= 0 && a.T >= 0 && a.C > 0, "embedding_backward: bad sizes");
  const std::size_t C = static_cast<std::size_t>(a.C);
  const std::size_t rows = static_cast<std::size_t>(a.B) * a.T;
  parallel_chunks(
      a.C, chunk_for(a.C, 3.0 * static_cast<double>(rows)), [&](std::int64_t c0, std::int64_t c1) {
        for (std::size_t i = 0; i < rows; ++i) {
          const T* g = dout + i * C;
          T* tok = dwte + static_cast<std::size_t>(a.tokens[i]) * C;
          T* pos = dwpe + static_cast<std::size_t>(a.positions[i]) * C;
          for (std::int64_t c = c0; c < c1; ++c) {
            tok[c] += g[c];
            pos[c] += g[c];
          }
          if (dwtt) {
            T* type = dwtt + static_cast<std::size_t>(a.token_types ? a.token_types[i] : 0) * C;
            for (std::int64_t c = c0; c < c1; ++c) type[c] += g[c];
          }
        }
      });
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
