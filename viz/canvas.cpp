#include "viz/canvas.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "kernels/error.h"

// stb_easy_font is a header of static functions (public domain, Debian's libstb-dev): glyphs
// come out as axis-aligned quads, which map exactly onto filled rectangles.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

namespace cugpt::viz {

namespace {

// The font covers printable ASCII only; anything else (UTF-8 of a BPE token, control bytes)
// is drawn as '?' rather than indexing outside its tables.
std::string printable(const std::string& s) {
  std::string out = s;
  for (char& ch : out) {
    const unsigned char u = static_cast<unsigned char>(ch);
    if (u < 32 || u > 126) ch = '?';
  }
  return out;
}

}  // namespace

Rgb mix(Rgb a, Rgb b, double t) {
  t = std::clamp(t, 0.0, 1.0);
  auto lerp = [t](std::uint8_t x, std::uint8_t y) {
    return static_cast<std::uint8_t>(std::lround(x + (static_cast<double>(y) - x) * t));
  };
  return {lerp(a.r, b.r), lerp(a.g, b.g), lerp(a.b, b.b)};
}

Canvas::Canvas(int width, int height, Rgb background) : width_(width), height_(height) {
  if (width <= 0 || height <= 0 || width > 16384 || height > 16384)
    throw Error("canvas of " + std::to_string(width) + "x" + std::to_string(height) +
                " pixels (expected 1 to 16384 each way)");
  pixels_.resize(static_cast<std::size_t>(width) * height * 3);
  for (std::size_t i = 0; i < pixels_.size(); i += 3) {
    pixels_[i] = background.r;
    pixels_[i + 1] = background.g;
    pixels_[i + 2] = background.b;
  }
}

Rgb Canvas::pixel(int x, int y) const {
  if (x < 0 || y < 0 || x >= width_ || y >= height_)
    throw Error("pixel (" + std::to_string(x) + ", " + std::to_string(y) + ") is outside the " +
                std::to_string(width_) + "x" + std::to_string(height_) + " canvas");
  const std::uint8_t* p = &pixels_[(static_cast<std::size_t>(y) * width_ + x) * 3];
  return {p[0], p[1], p[2]};
}

void Canvas::set(int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  std::uint8_t* p = &pixels_[(static_cast<std::size_t>(y) * width_ + x) * 3];
  p[0] = c.r;
  p[1] = c.g;
  p[2] = c.b;
}

void Canvas::fill_rect(int x, int y, int w, int h, Rgb c) {
  const int x0 = std::max(x, 0), x1 = std::min(x + w, width_);
  const int y0 = std::max(y, 0), y1 = std::min(y + h, height_);
  for (int yy = y0; yy < y1; ++yy)
    for (int xx = x0; xx < x1; ++xx) set(xx, yy, c);
}

void Canvas::outline_rect(int x, int y, int w, int h, Rgb c) {
  hline(x, x + w - 1, y, c);
  hline(x, x + w - 1, y + h - 1, c);
  vline(x, y, y + h - 1, c);
  vline(x + w - 1, y, y + h - 1, c);
}

void Canvas::hline(int x0, int x1, int y, Rgb c, int thickness, int dash) {
  if (x0 > x1) std::swap(x0, x1);
  for (int x = x0; x <= x1; ++x) {
    if (dash > 0 && ((x - x0) / dash) % 2 == 1) continue;
    for (int t = 0; t < thickness; ++t) set(x, y + t, c);
  }
}

void Canvas::vline(int x, int y0, int y1, Rgb c, int thickness, int dash) {
  if (y0 > y1) std::swap(y0, y1);
  for (int y = y0; y <= y1; ++y) {
    if (dash > 0 && ((y - y0) / dash) % 2 == 1) continue;
    for (int t = 0; t < thickness; ++t) set(x + t, y, c);
  }
}

void Canvas::line(int x0, int y0, int x1, int y1, Rgb c) {
  // Bresenham: every step moves one pixel along the major axis.
  const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
  const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  while (true) {
    set(x0, y0, c);
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) err += dy, x0 += sx;
    if (e2 <= dx) err += dx, y0 += sy;
  }
}

void Canvas::hatch_rect(int x, int y, int w, int h, Rgb c, int spacing) {
  const int x0 = std::max(x, 0), x1 = std::min(x + w, width_);
  const int y0 = std::max(y, 0), y1 = std::min(y + h, height_);
  for (int yy = y0; yy < y1; ++yy)
    for (int xx = x0; xx < x1; ++xx)
      if ((xx + yy) % spacing == 0) set(xx, yy, c);
}

template <typename F>
void Canvas::glyph_rects(const std::string& s, F&& f) const {
  std::string text = printable(s);
  if (text.empty()) return;
  // At most 11 quads of 64 bytes a glyph (the font's tables); a buffer too short for them
  // silently drops segments.
  std::vector<char> buffer(text.size() * 11 * 64 + 64);
  const int quads = stb_easy_font_print(0, 0, text.data(), nullptr, buffer.data(),
                                        static_cast<int>(buffer.size()));
  for (int q = 0; q < quads; ++q) {
    float min_x = 1e9f, min_y = 1e9f, max_x = -1e9f, max_y = -1e9f;
    for (int v = 0; v < 4; ++v) {
      const float* xyz = reinterpret_cast<const float*>(buffer.data() + q * 64 + v * 16);
      min_x = std::min(min_x, xyz[0]), max_x = std::max(max_x, xyz[0]);
      min_y = std::min(min_y, xyz[1]), max_y = std::max(max_y, xyz[1]);
    }
    f(static_cast<int>(min_x), static_cast<int>(min_y), static_cast<int>(max_x - min_x),
      static_cast<int>(max_y - min_y));
  }
}

int Canvas::text_width(const std::string& s, int scale) {
  std::string text = printable(s);
  if (text.empty()) return 0;
  // stb_easy_font counts the gap after the last glyph; a caller centring text wants ink only.
  return std::max(0, stb_easy_font_width(text.data()) - 1) * scale;
}

namespace {
int aligned_start(int x, int width, Align align) {
  if (align == Align::center) return x - width / 2;
  if (align == Align::right) return x - width;
  return x;
}
}  // namespace

void Canvas::text(int x, int y, const std::string& s, Rgb c, int scale, Align align) {
  const int x0 = aligned_start(x, text_width(s, scale), align);
  glyph_rects(s, [&](int gx, int gy, int gw, int gh) {
    fill_rect(x0 + gx * scale, y + gy * scale, gw * scale, gh * scale, c);
  });
}

void Canvas::text_up(int x, int y, const std::string& s, Rgb c, int scale, Align align) {
  // A glyph point (u along the text, v down from its top) lands at (x + v, y - u): the text
  // runs upwards with the glyphs' tops facing left.
  const int u0 = aligned_start(0, text_width(s, scale), align);
  glyph_rects(s, [&](int gx, int gy, int gw, int gh) {
    const int u = u0 + gx * scale, v = gy * scale;
    fill_rect(x + v, y - u - gw * scale, gh * scale, gw * scale, c);
  });
}

}  // namespace cugpt::viz
