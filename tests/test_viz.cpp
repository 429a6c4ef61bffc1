// The pictures: PNGs that decode to the drawn size, with the colours where the plot says they
// are, written whole or not at all.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#include <stb_image.h>

#include "kernels/error.h"
#include "models/config.h"
#include "train/memory_plan.h"
#include "viz/heatmap.h"
#include "viz/memory_plot.h"
#include "viz/png.h"

namespace cugpt::viz {
namespace {

struct Image {
  int width = 0, height = 0;
  std::vector<unsigned char> rgb;
  Rgb at(int x, int y) const {
    const unsigned char* p = &rgb[(static_cast<std::size_t>(y) * width + x) * 3];
    return {p[0], p[1], p[2]};
  }
};

Image decode(const std::string& path) {
  Image im;
  int channels = 0;
  unsigned char* data = stbi_load(path.c_str(), &im.width, &im.height, &channels, 3);
  if (!data) throw Error("cannot decode '" + path + "': " + stbi_failure_reason());
  im.rgb.assign(data, data + static_cast<std::size_t>(im.width) * im.height * 3);
  stbi_image_free(data);
  return im;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/cugpt-viz-XXXXXX";
    if (!mkdtemp(tmpl)) throw Error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    if (DIR* d = opendir(path_.c_str())) {
      while (dirent* e = readdir(d))
        if (std::string(e->d_name) != "." && std::string(e->d_name) != "..")
          names.push_back(e->d_name);
      closedir(d);
    }
    return names;
  }

 private:
  std::string path_;
};

::testing::AssertionResult same(Rgb got, Rgb want) {
  if (got == want) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "pixel (" << int(got.r) << ", " << int(got.g) << ", " << int(got.b) << "), expected ("
         << int(want.r) << ", " << int(want.g) << ", " << int(want.b) << ")";
}

// A tiny training step on a card small enough that the budget is on the plot's scale.
struct TinyStep {
  MemoryQuery q;
  MemoryResult r;
  TinyStep() {
    q.batch = 2;
    q.seq = 16;
    q.vram = 8ull << 20;
    q.reserve = 1ull << 20;
    q.timeline = true;
    r = simulate_memory(load_config("gpt-day18-tiny"), q);
  }
};

TEST(MemoryPlot, PngDecodesToTheDrawnSize) {
  const TinyStep s;
  TempDir dir;
  const Canvas cv = render_memory_plot("gpt-day18-tiny", s.q, s.r);
  write_memory_plot(dir.file("m.png"), "gpt-day18-tiny", s.q, s.r);
  const Image im = decode(dir.file("m.png"));
  EXPECT_EQ(im.width, cv.width());
  EXPECT_EQ(im.height, cv.height());
  EXPECT_EQ(im.width, 1600);
  EXPECT_EQ(im.height, 900);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"m.png"});  // no temporary left
}

TEST(MemoryPlot, PeakColumnIsStackedByCategory) {
  const TinyStep s;
  ASSERT_TRUE(s.r.fits);
  TempDir dir;
  MemoryPlotGeometry g;
  write_png(dir.file("m.png"), render_memory_plot("gpt-day18-tiny", s.q, s.r, &g));
  const Image im = decode(dir.file("m.png"));
  ASSERT_GT(g.peak_x, g.plot_x0);
  ASSERT_LT(g.peak_x, g.plot_x1);
  // Every band tall enough to hit has its category's colour, in stacking order, at the peak.
  std::uint64_t below = 0;
  int checked = 0;
  for (int i = 0; i < kNumCategories; ++i) {
    const std::uint64_t b = s.r.at_peak[i];
    if (g.y_of(below) - g.y_of(below + b) >= 4) {
      SCOPED_TRACE(category_name(category_at(i)));
      EXPECT_TRUE(same(im.at(g.peak_x, g.y_of(below + b / 2)), category_colour(category_at(i))));
      ++checked;
    }
    below += b;
  }
  EXPECT_EQ(below, s.r.peak);
  EXPECT_GE(checked, 3);  // parameter, gradient, optimizer_state, workspace
}

TEST(MemoryPlot, BudgetLineHasTheBudgetColour) {
  const TinyStep s;
  TempDir dir;
  MemoryPlotGeometry g;
  write_png(dir.file("m.png"), render_memory_plot("gpt-day18-tiny", s.q, s.r, &g));
  const Image im = decode(dir.file("m.png"));
  ASSERT_GE(g.budget_y, g.plot_y0);
  EXPECT_EQ(g.budget_y, g.y_of(s.r.available));
  for (int x : {g.plot_x0 + 2, (3 * g.plot_x0 + g.plot_x1) / 4, g.plot_x1 - 2}) {
    SCOPED_TRACE(x);
    EXPECT_TRUE(same(im.at(x, g.budget_y), kBudgetColour));
  }
}

TEST(MemoryPlot, BudgetFarAboveTheStepIsOffTheScale) {
  TinyStep s;
  s.q.vram = 4ull << 30;
  s.q.reserve = kDefaultReserve;
  s.r = simulate_memory(load_config("gpt-day18-tiny"), s.q);
  MemoryPlotGeometry g;
  render_memory_plot("gpt-day18-tiny", s.q, s.r, &g);
  EXPECT_EQ(g.budget_y, -1);
  EXPECT_GE(g.y_of(s.r.peak), g.plot_y0);  // the step fills the height instead
}

TEST(MemoryPlot, InferenceAndMissingTimeline) {
  MemoryQuery q;
  q.mode = MemoryMode::infer;
  q.optimizer = OptimizerKind::none;
  q.batch = 2;
  q.seq = 8;
  q.timeline = true;
  const MemoryResult r = simulate_memory(load_config("gpt2-tiny"), q);
  const Canvas cv = render_memory_plot("gpt2-tiny", q, r);
  EXPECT_EQ(cv.width(), 1600);
  q.timeline = false;
  EXPECT_THROW(render_memory_plot("gpt2-tiny", q, simulate_memory(load_config("gpt2-tiny"), q)),
               Error);
}

std::vector<float> causal_softmax(int T) {
  std::vector<float> p(static_cast<std::size_t>(T) * T, 0.0f);
  for (int q = 0; q < T; ++q)
    for (int k = 0; k <= q; ++k) p[static_cast<std::size_t>(q) * T + k] = 1.0f / (q + 1);
  return p;
}

TEST(Heatmap, SmallMatrixWithLabels) {
  const std::vector<float> p = causal_softmax(5);  // row 0 is [1, 0, 0, 0, 0]
  TempDir dir;
  HeatmapGeometry g;
  const std::vector<std::string> tokens = {"The", " cat", " sat", " on", " mat"};
  const Canvas cv = render_attention_heatmap(p, 5, tokens, "layer 0, head 3", &g);
  write_attention_heatmap(dir.file("h.png"), p, 5, tokens, "layer 0, head 3");
  const Image im = decode(dir.file("h.png"));
  EXPECT_EQ(im.width, cv.width());
  EXPECT_EQ(im.height, cv.height());
  EXPECT_EQ(g.cell, 40);
  EXPECT_TRUE(g.labels);
  const int c = g.cell / 2;
  EXPECT_TRUE(same(im.at(g.x0 + c, g.y0 + c), heatmap_colour(1.0f)));           // (0, 0): 1
  EXPECT_TRUE(same(im.at(g.x0 + g.cell + c, g.y0 + c), heatmap_colour(0.0f)));  // (0, 1): 0
  EXPECT_TRUE(same(im.at(g.x0 + 4 * g.cell + c, g.y0 + 4 * g.cell + c), heatmap_colour(0.2f)));
}

TEST(Heatmap, RampIsOrderedDarkToLight) {
  EXPECT_TRUE(same(heatmap_colour(0.0f), Rgb{68, 1, 84}));
  EXPECT_TRUE(same(heatmap_colour(1.0f), Rgb{253, 231, 37}));
  EXPECT_TRUE(same(heatmap_colour(-3.0f), heatmap_colour(0.0f)));  // clamped
  EXPECT_TRUE(same(heatmap_colour(7.0f), heatmap_colour(1.0f)));
  double previous = -1;
  for (int i = 0; i <= 100; ++i) {
    const Rgb c = heatmap_colour(i / 100.0f);
    const double luma = 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b;
    EXPECT_GT(luma, previous) << "at " << i / 100.0;
    previous = luma;
  }
}

TEST(Heatmap, LongSequencesStayUnder2048Pixels) {
  for (int T : {300, 1024}) {
    SCOPED_TRACE(T);
    const std::vector<float> p = causal_softmax(T);
    const std::vector<std::string> tokens(static_cast<std::size_t>(T), "tok");
    TempDir dir;
    HeatmapGeometry g;
    const Canvas cv = render_attention_heatmap(p, T, tokens, "a long one", &g);
    write_attention_heatmap(dir.file("h.png"), p, T, tokens, "a long one");
    const Image im = decode(dir.file("h.png"));
    EXPECT_EQ(im.width, cv.width());
    EXPECT_EQ(im.height, cv.height());
    EXPECT_LE(im.width, 2048);
    EXPECT_LE(im.height, 2048);
    EXPECT_GE(g.cell * T, 1000);  // the matrix still takes most of the picture
    EXPECT_TRUE(g.labels);        // thinned: every label_step-th token, 20 pixels apart
    EXPECT_GE(g.label_step * g.cell, 20);
    EXPECT_LT((g.label_step - 1) * g.cell, 20);
    EXPECT_TRUE(same(im.at(g.x0, g.y0), heatmap_colour(1.0f)));
    EXPECT_TRUE(same(im.at(g.x0 + g.cell * T - 1, g.y0), heatmap_colour(0.0f)));
  }
}

// Past about 60 tokens the cells are under 20 pixels: the labels are thinned to one per 20
// pixels, each with its position, instead of a 7-pixel text every 12 pixels that runs together.
TEST(Heatmap, LabelsAreThinnedBeyondSixtyTokens) {
  for (std::int64_t T : {5, 60, 61, 100, 300}) {
    SCOPED_TRACE(T);
    const std::vector<std::string> tokens(static_cast<std::size_t>(T), "tok");
    HeatmapGeometry g;
    const Canvas cv = render_attention_heatmap(causal_softmax(T), T, tokens, "t", &g);
    EXPECT_TRUE(g.labels);
    EXPECT_EQ(g.label_step, T <= 60 ? 1 : (20 + g.cell - 1) / g.cell);
    // Row labels end 8 pixels left of the matrix: ink beside a labelled row, none beside the
    // rows between two labels.
    const auto ink_left_of = [&](std::int64_t row) {
      const int y = g.y0 + static_cast<int>(row) * g.cell + g.cell / 2;
      for (int x = 0; x < g.x0 - 8; ++x)
        if (!same(cv.pixel(x, y), Rgb{255, 255, 255})) return true;
      return false;
    };
    EXPECT_TRUE(ink_left_of(0));
    if (g.label_step > 2) {
      EXPECT_FALSE(ink_left_of(g.label_step / 2)) << g.label_step;
    }
  }
}

TEST(Heatmap, RejectsMismatchedInput) {
  EXPECT_THROW(render_attention_heatmap(std::vector<float>(24), 5, {}, "x"), Error);
  EXPECT_THROW(render_attention_heatmap(causal_softmax(3), 3, {"a", "b"}, "x"), Error);
  EXPECT_THROW(render_attention_heatmap({}, 0, {}, "x"), Error);
}

TEST(Png, UnwritablePathThrowsAndLeavesNothing) {
  const std::vector<float> p = causal_softmax(4);
  // Below a regular file: no directory can be made there, not even by root.
  const std::string file = ::testing::TempDir() + "cugpt-viz-a-file";
  std::ofstream(file).put('x');
  const std::string path = file + "/x.png";
  try {
    write_attention_heatmap(path, p, 4, {}, "x");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cannot write '" + path + "'"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
  EXPECT_NE(access(path.c_str(), F_OK), 0);
  // A directory in the way: the rename fails after the bytes were written; the temporary goes.
  TempDir dir;
  const std::string blocked = dir.file("blocked.png");
  ASSERT_EQ(mkdir(blocked.c_str(), 0755), 0);
  EXPECT_THROW(write_png(blocked, Canvas(8, 8)), Error);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"blocked.png"});
}

TEST(Png, SignatureAndPixels) {
  Canvas cv(3, 2, {10, 20, 30});
  cv.set(2, 1, {200, 100, 50});
  const std::string png = encode_png(cv);
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  TempDir dir;
  write_png(dir.file("p.png"), cv);
  const Image im = decode(dir.file("p.png"));
  EXPECT_EQ(im.width, 3);
  EXPECT_EQ(im.height, 2);
  EXPECT_TRUE(same(im.at(0, 0), Rgb{10, 20, 30}));
  EXPECT_TRUE(same(im.at(2, 1), Rgb{200, 100, 50}));
}

TEST(Canvas, TextAndClipping) {
  Canvas cv(40, 20);
  cv.fill_rect(-5, -5, 10, 10, {0, 0, 0});  // clipped, not an error
  EXPECT_TRUE(same(cv.pixel(4, 4), Rgb{0, 0, 0}));
  EXPECT_TRUE(same(cv.pixel(5, 5), Rgb{255, 255, 255}));
  EXPECT_GT(Canvas::text_width("Hi", 2), Canvas::text_width("Hi", 1));
  EXPECT_EQ(Canvas::text_width("", 1), 0);
  Canvas t(60, 20);
  t.text(2, 2, "H\xc4\xa0\x01", {0, 0, 0}, 1);  // non-ASCII bytes draw as '?', no crash
  int ink = 0;
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 60; ++x) ink += t.pixel(x, y) != Rgb{255, 255, 255};
  EXPECT_GT(ink, 10);
  EXPECT_THROW(Canvas(0, 5), Error);
}

}  // namespace
}  // namespace cugpt::viz
