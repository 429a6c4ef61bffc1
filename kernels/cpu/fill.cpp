#include <algorithm>

#include "kernels/cpu/threads.h"
#include "kernels/error.h"
#include "kernels/fill.h"

namespace cugpt::kernels {

namespace {
template <typename T>
void fill_as(void* dst, std::size_t n, std::uint64_t pattern) {
  // Zeroing gradients touches every byte: split across threads, for the bandwidth.
  const auto N = static_cast<std::int64_t>(n);
  parallel_chunks(N, chunk_for(N, sizeof(T)), [&](std::int64_t i0, std::int64_t i1) {
    std::fill(static_cast<T*>(dst) + i0, static_cast<T*>(dst) + i1, static_cast<T>(pattern));
  });
}
}  // namespace

void fill_cpu(void* dst, std::size_t n, std::size_t elem_size, std::uint64_t pattern) {
  switch (elem_size) {
    case 2:
      return fill_as<std::uint16_t>(dst, n, pattern);
    case 4:
      return fill_as<std::uint32_t>(dst, n, pattern);
    case 8:
      return fill_as<std::uint64_t>(dst, n, pattern);
  }
  throw Error("fill: unsupported element size " + std::to_string(elem_size));
}

}  // namespace cugpt::kernels
