// How the cpu GEMMs split an (M, N) output across threads (kernels/cpu/threads.h): tiles of
// at most kTileRows x kTileCols, fixed by the sizes alone, each one sequential Eigen product
// over the whole depth. A thread count therefore never changes what an element's sum is.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/threads.h"

namespace cugpt::kernels::cpu_detail {

// 128 columns keep a weight slice's packing cost small against its products and give
// C = 768 six tiles (even for 2 and 3 threads); 256 rows bound the re-packing of each slice.
// With one or a few rows (decode) the product is a GEMV that reads the weights once: 64
// columns then give the threads enough slices of the weight matrix to share its bandwidth.
constexpr std::int64_t kTileRows = 256;

inline std::int64_t tile_cols(std::int64_t rows) {
  return rows <= 8 ? 64 : 128;
}

// Calls tile(r0, rows, c0, cols) for every tile of an (M, N) output whose elements are sums
// over `depth` products, in parallel (inline when the whole product is too small to share).
template <typename Tile>
void for_each_tile(std::int64_t M, std::int64_t N, std::int64_t depth, const Tile& tile) {
  if (M <= 0 || N <= 0) return;
  const std::int64_t tr = std::min(M, kTileRows), tc = std::min(N, tile_cols(M));
  const std::int64_t row_tiles = chunk_count(M, tr), col_tiles = chunk_count(N, tc);
  parallel_chunks(
      row_tiles * col_tiles, 1,
      [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t t = begin; t < end; ++t) {
          const std::int64_t r0 = (t / col_tiles) * tr, c0 = (t % col_tiles) * tc;
          tile(r0, std::min(tr, M - r0), c0, std::min(tc, N - c0));
        }
      },
      2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(depth));
}

}  // namespace cugpt::kernels::cpu_detail
