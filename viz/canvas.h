// An RGB raster for the pictures cugpt writes (memory timelines, attention maps): filled
// rectangles, axis-aligned and straight lines, and text in a small bitmap font, all clipped to
// the canvas. Integer pixel coordinates, origin top-left, y down.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cugpt::viz {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
  bool operator!=(const Rgb& o) const { return !(*this == o); }
};

// a + t (b - a), t in [0, 1].
Rgb mix(Rgb a, Rgb b, double t);

enum class Align { left, center, right };

class Canvas {
 public:
  Canvas(int width, int height, Rgb background = {255, 255, 255});

  int width() const { return width_; }
  int height() const { return height_; }
  // Rows top to bottom, 3 bytes a pixel: what a PNG encoder takes.
  const std::uint8_t* data() const { return pixels_.data(); }
  Rgb pixel(int x, int y) const;

  void set(int x, int y, Rgb c);
  void fill_rect(int x, int y, int w, int h, Rgb c);
  void outline_rect(int x, int y, int w, int h, Rgb c);
  // Horizontal and vertical lines of `thickness` pixels (growing down / right); dash > 0 draws
  // dash pixels on, dash pixels off.
  void hline(int x0, int x1, int y, Rgb c, int thickness = 1, int dash = 0);
  void vline(int x, int y0, int y1, Rgb c, int thickness = 1, int dash = 0);
  void line(int x0, int y0, int x1, int y1, Rgb c);
  // Diagonal stripes over a rectangle: marks a region that is not there to be used.
  void hatch_rect(int x, int y, int w, int h, Rgb c, int spacing);

  // Text in stb_easy_font's glyphs, each glyph pixel drawn as a scale x scale square; bytes
  // outside printable ASCII draw as '?'. (x, y) is the top of the line; `align` places x at the
  // text's left edge, centre or right edge.
  void text(int x, int y, const std::string& s, Rgb c, int scale = 1, Align align = Align::left);
  // The same text turned a quarter to the left, reading upwards: the glyphs' tops face column
  // x, and the text starts at row y (`align` measured along the text, upwards).
  void text_up(int x, int y, const std::string& s, Rgb c, int scale = 1, Align align = Align::left);
  static int text_width(const std::string& s, int scale = 1);
  // The height of one line of capitals and digits, without descenders.
  static int text_height(int scale = 1) { return 7 * scale; }

 private:
  template <typename F>
  void glyph_rects(const std::string& s, F&& f) const;

  int width_, height_;
  std::vector<std::uint8_t> pixels_;
};

}  // namespace cugpt::viz
