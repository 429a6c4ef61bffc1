#include "viz/grid.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "kernels/error.h"
#include "viz/heatmap.h"
#include "viz/png.h"

namespace cugpt::viz {

namespace {

constexpr Rgb kInk{40, 40, 40}, kGrey{110, 110, 110};

Rgb diverging_colour(double t) {  // t in [-1, 1]
  if (std::isnan(t)) return {128, 128, 128};
  t = std::clamp(t, -1.0, 1.0);
  return t < 0 ? mix(Rgb{255, 255, 255}, Rgb{33, 102, 172}, -t)
               : mix(Rgb{255, 255, 255}, Rgb{178, 24, 43}, t);
}

std::string fmt(double v) {
  char b[24];
  std::snprintf(b, sizeof b, "%.3g", v);
  return b;
}

}  // namespace

Canvas render_grid(const std::vector<double>& values, std::int64_t rows, std::int64_t cols,
                   const std::vector<std::string>& row_labels,
                   const std::vector<std::string>& col_labels, const std::string& title,
                   const GridStyle& style) {
  if (rows <= 0 || cols <= 0 || rows > 4096 || cols > 4096 ||
      values.size() != static_cast<std::size_t>(rows * cols))
    throw Error("grid picture: " + std::to_string(values.size()) + " values for " +
                std::to_string(rows) + " x " + std::to_string(cols));
  const int cell = static_cast<int>(std::clamp<std::int64_t>(900 / std::max(rows, cols), 4, 48));
  double m = 0;
  for (double v : values)
    if (std::isfinite(v)) m = std::max(m, std::fabs(v));
  if (m == 0) m = 1;
  auto colour = [&](double v) {
    if (style.diverging) return diverging_colour(v / m);
    const double span = style.hi > style.lo ? style.hi - style.lo : 1.0;
    return heatmap_colour(static_cast<float>((v - style.lo) / span));
  };
  int label_w = 0, col_h = 0;
  for (const auto& s : row_labels) label_w = std::max(label_w, Canvas::text_width(s, 2));
  for (const auto& s : col_labels) col_h = std::max(col_h, Canvas::text_width(s, 2));
  const int left = 30 + label_w, top = 64, W = cell * static_cast<int>(cols),
            Hh = cell * static_cast<int>(rows);
  const int bar_h = std::max(Hh, 120), bar_w = 22;
  const std::string heading = title.substr(0, 160);
  const int width = std::max(left + W + 40 + bar_w + Canvas::text_width("-0.000", 2) + 30,
                             Canvas::text_width(heading, 2) + 60);
  Canvas cv(width, top + std::max(Hh, bar_h) + col_h + 40);
  cv.text(30, 22, heading, kInk, 2);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c)
      cv.fill_rect(left + c * cell, top + r * cell, cell - (cell >= 16), cell - (cell >= 16),
                   colour(values[static_cast<std::size_t>(r * cols + c)]));
  cv.outline_rect(left - 1, top - 1, W + 2, Hh + 2, kGrey);
  const bool every = cell >= 16;  // labels fit every cell; else every few
  const int step = every ? 1 : std::max(1, 16 / cell);
  for (int r = 0; r < rows && r < static_cast<int>(row_labels.size()); r += step)
    cv.text(left - 8, top + r * cell + (cell - Canvas::text_height(2)) / 2, row_labels[r], kInk, 2,
            Align::right);
  for (int c = 0; c < cols && c < static_cast<int>(col_labels.size()); c += step)
    cv.text_up(left + c * cell + (cell - Canvas::text_height(2)) / 2, top + Hh + 8, col_labels[c],
               kInk, 2, Align::right);
  const int bx = left + W + 30;
  for (int y = 0; y < bar_h; ++y) {
    const double f = 1.0 - static_cast<double>(y) / (bar_h - 1);  // 1 at the top
    cv.hline(bx, bx + bar_w - 1, top + y,
             style.diverging ? diverging_colour(2 * f - 1) : heatmap_colour(static_cast<float>(f)));
  }
  cv.outline_rect(bx - 1, top - 1, bar_w + 2, bar_h + 2, kGrey);
  const double top_v = style.diverging ? m : style.hi, bottom_v = style.diverging ? -m : style.lo;
  cv.text(bx + bar_w + 8, top - 2, fmt(top_v), kInk, 2);
  cv.text(bx + bar_w + 8, top + bar_h - 14, fmt(bottom_v), kInk, 2);
  return cv;
}

void write_grid(const std::string& path, const std::vector<double>& values, std::int64_t rows,
                std::int64_t cols, const std::vector<std::string>& row_labels,
                const std::vector<std::string>& col_labels, const std::string& title,
                const GridStyle& style) {
  write_png(path, render_grid(values, rows, cols, row_labels, col_labels, title, style));
}

}  // namespace cugpt::viz
