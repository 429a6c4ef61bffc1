#include "kernels/embedding.h"

#include "kernels/cpu/threads.h"
#include "kernels/error.h"

namespace cugpt::kernels {

namespace {
template <typename T>
void embed(const EmbeddingArgs& a, T* out, const T* wte, const T* wpe, const T* wtt) {
  CUGPT_CHECK(a.B >= 0 && a.T >= 0 && a.C > 0, "embedding: bad sizes");
  const std::size_t C = static_cast<std::size_t>(a.C);
  const std::int64_t rows = static_cast<std::int64_t>(a.B) * a.T;
  parallel_chunks(rows, chunk_for(rows, 3.0 * a.C), [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const T* tok = wte + static_cast<std::size_t>(a.tokens[i]) * C;
      const T* pos = wpe + static_cast<std::size_t>(a.positions[i]) * C;
      T* o = out + i * C;
      for (std::size_t c = 0; c < C; ++c) o[c] = tok[c] + pos[c];
      if (wtt) {
        const T* type = wtt + static_cast<std::size_t>(a.token_types ? a.token_types[i] : 0) * C;
        for (std::size_t c = 0; c < C; ++c) o[c] += type[c];
      }
    }
  });
}
}  // namespace

void embedding_forward_cpu(const EmbeddingArgs& a, float* out, const float* wte, const float* wpe,
                           const float* wtt) {
  embed(a, out, wte, wpe, wtt);
}

void embedding_forward_cpu(const EmbeddingArgs& a, double* out, const double* wte,
                           const double* wpe, const double* wtt) {
  embed(a, out, wte, wpe, wtt);
}

}  // namespace cugpt::kernels
