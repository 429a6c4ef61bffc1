// A rows x cols matrix of numbers as a picture (the analyses' layers x heads and layers x
// positions grids): sequential values on the attention heatmap's ramp between lo and hi, or
// signed values on a blue-white-red ramp symmetric about 0; row and column labels, a title and
// a colour bar.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "viz/canvas.h"

namespace cugpt::viz {

struct GridStyle {
  bool diverging = false;  // signed: blue (-m) through white (0) to red (+m), m = max |value|
  double lo = 0, hi = 1;   // sequential range (ignored when diverging)
};

Canvas render_grid(const std::vector<double>& values, std::int64_t rows, std::int64_t cols,
                   const std::vector<std::string>& row_labels,
                   const std::vector<std::string>& col_labels, const std::string& title,
                   const GridStyle& style);
void write_grid(const std::string& path, const std::vector<double>& values, std::int64_t rows,
                std::int64_t cols, const std::vector<std::string>& row_labels,
                const std::vector<std::string>& col_labels, const std::string& title,
                const GridStyle& style);

}  // namespace cugpt::viz
