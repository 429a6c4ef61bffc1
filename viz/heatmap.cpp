#include "viz/heatmap.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include "kernels/error.h"
#include "viz/png.h"

namespace cugpt::viz {

namespace {

constexpr Rgb kInk{40, 40, 40}, kGrey{110, 110, 110};
constexpr int kMaxLabelChars = 14;
// Pixels between the baselines of two token labels at scale 1 (7-pixel glyphs): closer, they
// run together, which is what happened beyond about 60 tokens.
constexpr int kLabelPitch = 20;

// Cells are square; 1200 pixels of matrix at most until one pixel a cell, so T = 1024 makes an
// image of about 1300 pixels and a handful of tokens still gets cells large enough to label.
int cell_size(std::int64_t T) {
  return static_cast<int>(std::clamp<std::int64_t>(1200 / T, 1, 40));
}

std::string shorten(const std::string& s) {
  if (s.size() <= kMaxLabelChars) return s;
  return s.substr(0, kMaxLabelChars - 2) + "..";
}

// A round step (1, 2 or 5 times a power of ten) giving at most `most` ticks over n positions.
std::int64_t tick_step(std::int64_t n, std::int64_t most) {
  for (std::int64_t m = 1;; m *= 10)
    for (std::int64_t f : {1, 2, 5})
      if (n / (f * m) < most) return f * m;
}

std::string format_tick(double v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

Rgb heatmap_colour(float p) {
  // Control points of a dark-violet, blue, teal, green, yellow ramp: lightness rises steadily,
  // so order reads the same in grey and to colour-blind eyes.
  static constexpr std::array<Rgb, 5> kRamp = {Rgb{68, 1, 84}, Rgb{59, 82, 139}, Rgb{33, 145, 140},
                                               Rgb{94, 201, 98}, Rgb{253, 231, 37}};
  if (std::isnan(p)) return {128, 128, 128};
  const double t = std::clamp(static_cast<double>(p), 0.0, 1.0) * (kRamp.size() - 1);
  const std::size_t i = std::min(static_cast<std::size_t>(t), kRamp.size() - 2);
  return mix(kRamp[i], kRamp[i + 1], t - static_cast<double>(i));
}

Canvas render_attention_heatmap(const std::vector<float>& probs, std::int64_t T,
                                const std::vector<std::string>& labels, const std::string& title,
                                HeatmapGeometry* geometry) {
  if (T <= 0 || T > 8192)
    throw Error("attention heatmap of " + std::to_string(T) + " positions (expected 1 to 8192)");
  if (probs.size() != static_cast<std::size_t>(T * T))
    throw Error("attention heatmap: " + std::to_string(probs.size()) + " values for a " +
                std::to_string(T) + "x" + std::to_string(T) + " matrix");
  if (!labels.empty() && labels.size() != static_cast<std::size_t>(T))
    throw Error("attention heatmap: " + std::to_string(labels.size()) + " labels for " +
                std::to_string(T) + " positions");
  HeatmapGeometry g;
  g.cell = cell_size(T);
  const int n = static_cast<int>(T), m = g.cell * n;  // the matrix, m x m pixels
  // Every token while the cells are large enough to hold a readable label; beyond, every
  // label_step-th token, prefixed by its position so the thinned axis still reads.
  g.labels = !labels.empty();
  g.label_step = g.cell >= kLabelPitch ? 1 : (kLabelPitch + g.cell - 1) / g.cell;
  const int label_scale = g.cell >= 20 ? 2 : 1;
  const int tick_scale = m >= 400 ? 2 : 1;
  const auto label_at = [&](int i) {
    const std::string s = shorten(labels[static_cast<std::size_t>(i)]);
    return g.label_step > 1 ? std::to_string(i) + " " + s : s;
  };
  int label_w = 0;
  if (g.labels) {
    for (int i = 0; i < static_cast<int>(T); i += g.label_step)
      label_w = std::max(label_w, Canvas::text_width(label_at(i), label_scale));
  } else {
    label_w = Canvas::text_width(std::to_string(T - 1), tick_scale);
  }
  const std::string heading = title.substr(0, 160);
  const int bar_h = std::max(m, 120), bar_w = 22;
  const int left = 40 + label_w + 12, top = 64;
  const int right = 30 + bar_w + 8 + Canvas::text_width("0.75", 2) + 24;
  const int bottom = label_w + 12 + 50;
  const int width = std::max(left + m + right, Canvas::text_width(heading, 2) + 60);
  const int height = top + std::max(m, bar_h) + bottom;
  g.x0 = left, g.y0 = top;

  Canvas cv(width, height);
  cv.text(30, 22, heading, kInk, 2);
  const bool gaps = g.cell >= 16;  // white hairlines between large cells
  for (int q = 0; q < n; ++q)
    for (int k = 0; k < n; ++k)
      cv.fill_rect(g.x0 + k * g.cell, g.y0 + q * g.cell, g.cell - (gaps ? 1 : 0),
                   g.cell - (gaps ? 1 : 0),
                   heatmap_colour(probs[static_cast<std::size_t>(q) * n + k]));
  cv.outline_rect(g.x0 - 1, g.y0 - 1, m + 2, m + 2, kGrey);

  // Rows down the left, columns along the bottom reading upwards.
  auto row_label = [&](int q, const std::string& s, int scale) {
    const int y = g.y0 + q * g.cell + (g.cell - Canvas::text_height(scale)) / 2;
    cv.text(g.x0 - 8, y, s, kInk, scale, Align::right);
  };
  auto column_label = [&](int k, const std::string& s, int scale) {
    const int x = g.x0 + k * g.cell + (g.cell - Canvas::text_height(scale)) / 2;
    cv.text_up(x, g.y0 + m + 8, s, kInk, scale, Align::right);
  };
  if (g.labels) {
    for (int i = 0; i < n; i += g.label_step) {
      const std::string s = label_at(i);
      row_label(i, s, label_scale);
      column_label(i, s, label_scale);
      if (g.label_step > 1) {  // a tick, as the labelled cell is one of several under the text
        const int c = i * g.cell + g.cell / 2;
        cv.hline(g.x0 - 5, g.x0 - 2, g.y0 + c, kInk);
        cv.vline(g.x0 + c, g.y0 + m + 1, g.y0 + m + 4, kInk);
      }
    }
  } else {
    const std::int64_t step = tick_step(T, 8);
    for (int i = 0; i < n; i += static_cast<int>(step)) {
      const int c = i * g.cell + g.cell / 2;
      cv.hline(g.x0 - 5, g.x0 - 2, g.y0 + c, kInk);
      cv.vline(g.x0 + c, g.y0 + m + 1, g.y0 + m + 4, kInk);
      row_label(i, std::to_string(i), tick_scale);
      column_label(i, std::to_string(i), tick_scale);
    }
  }
  const std::string yname = g.labels ? "query" : "query position";
  const std::string xname = g.labels ? "key" : "key position";
  cv.text_up(14, g.y0 + m / 2, yname, kInk, 2, Align::center);
  cv.text(g.x0 + m / 2, g.y0 + m + label_w + 24, xname, kInk, 2, Align::center);

  // The colour bar: 1 at the top, 0 at the bottom.
  const int bx = g.x0 + m + 30, by = g.y0;
  for (int y = 0; y < bar_h; ++y)
    cv.hline(bx, bx + bar_w - 1, by + y,
             heatmap_colour(1.0f - static_cast<float>(y) / static_cast<float>(bar_h - 1)));
  cv.outline_rect(bx - 1, by - 1, bar_w + 2, bar_h + 2, kGrey);
  for (double v : {0.0, 0.25, 0.5, 0.75, 1.0}) {
    const int y = by + static_cast<int>(std::lround((1.0 - v) * (bar_h - 1)));
    cv.hline(bx + bar_w, bx + bar_w + 4, y, kInk);
    cv.text(bx + bar_w + 9, y - 7, format_tick(v), kInk, 2);
  }
  if (geometry) *geometry = g;
  return cv;
}

void write_attention_heatmap(const std::string& path, const std::vector<float>& probs,
                             std::int64_t T, const std::vector<std::string>& labels,
                             const std::string& title) {
  write_png(path, render_attention_heatmap(probs, T, labels, title));
}

}  // namespace cugpt::viz
