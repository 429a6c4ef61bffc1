#include "viz/memory_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

#include "kernels/error.h"
#include "nn/bytes.h"
#include "viz/png.h"

namespace cugpt::viz {

namespace {

constexpr int kWidth = 1600, kHeight = 900;
constexpr Rgb kInk{40, 40, 40}, kGrey{120, 120, 120}, kGrid{228, 228, 228};
constexpr Rgb kReserveFill{244, 244, 244}, kReserveHatch{196, 196, 196}, kCard{90, 90, 90};
constexpr Rgb kFits{25, 135, 65}, kWhite{255, 255, 255};

// The step as the plot sees it: the timeline up to the first release of memory that lives as
// long as the model (persistent categories, the KV cache), which only the teardown after the
// step does; each event's bytes per category; and the phase each event belongs to.
struct Step {
  std::vector<CategoryBytes> bytes;  // per event, after it
  std::vector<std::uint64_t> in_use;
  std::vector<std::string> phase;
  std::size_t events = 0;  // real events; slots past them are the optimizer step (see below)
  std::size_t slots = 0;
  std::size_t optimizer_events = 0;
  std::size_t peak_event = 0;
};

std::string base_phase(const std::string& tag) {
  if (tag.empty()) return "";
  if (tag == "parameters") return "setup";
  if (tag.rfind("forward", 0) == 0) return "forward";
  if (tag.rfind("backward", 0) == 0) return "backward";
  if (tag.rfind("optimizer", 0) == 0) return "optimizer step";
  if (tag.find("loss") != std::string::npos) return "loss";
  return "forward";  // inference: "block i", "layer i", "lm_head"
}

// Phases from the arena's tags (models/gpt_train.cpp, train/memory_plan.cpp). Inference runs
// the model twice (prefill, then one decode step); a pass ends where "lm_head" gives way to a
// block again. Untagged events are the glue between tagged scopes: a transient allocation
// belongs to the operation that follows (the embedding of the next pass), anything else (the
// optimizer's state, a release at the end of a scope) to the one before.
std::vector<std::string> assign_phases(const std::vector<TimelineEvent>& tl, std::size_t n,
                                       MemoryMode mode) {
  std::vector<std::string> ph(n);
  std::vector<int> pass(n, 0);
  int passes = 0;
  bool in_head = false;
  for (std::size_t i = 0; i < n; ++i) {
    ph[i] = base_phase(tl[i].tag);
    if (ph[i] != "forward" || mode != MemoryMode::infer) continue;
    if (tl[i].tag == "lm_head") {
      in_head = true;
    } else if (in_head) {
      in_head = false;
      ++passes;
    }
    pass[i] = passes;
  }
  if (mode == MemoryMode::infer && passes == 1)
    for (std::size_t i = 0; i < n; ++i)
      if (ph[i] == "forward") ph[i] = pass[i] == 0 ? "prefill" : "decode";
  std::vector<std::string> next(n + 1);
  for (std::size_t i = n; i-- > 0;) next[i] = ph[i].empty() ? next[i + 1] : ph[i];
  std::string previous = "setup";
  for (std::size_t i = 0; i < n; ++i) {
    if (ph[i].empty()) {
      const Category c = tl[i].category;
      const bool leads = tl[i].kind == TimelineEvent::Kind::alloc &&
                         (c == Category::activation || c == Category::workspace);
      ph[i] = leads && !next[i].empty() ? next[i] : previous;
    }
    previous = ph[i];
  }
  return ph;
}

Step prepare(const MemoryQuery& q, const MemoryResult& r) {
  const auto& tl = r.timeline;
  if (tl.empty())
    throw Error("memory plot: the result has no timeline (run it with MemoryQuery::timeline)");
  Step s;
  std::size_t n = 0;
  for (; n < tl.size(); ++n) {
    const Category c = tl[n].category;
    if (tl[n].kind == TimelineEvent::Kind::free && (is_persistent(c) || c == Category::kv_cache))
      break;
  }
  CategoryBytes now{};
  bool found_peak = false;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t& b = now[static_cast<int>(tl[i].category)];
    b = tl[i].kind == TimelineEvent::Kind::alloc ? b + tl[i].bytes : b - tl[i].bytes;
    s.bytes.push_back(now);
    s.in_use.push_back(tl[i].in_use);
    if (!found_peak && tl[i].in_use == r.peak) s.peak_event = i, found_peak = true;
  }
  if (!found_peak) throw Error("memory plot: the timeline never reaches the reported peak");
  s.events = s.slots = n;
  s.phase = assign_phases(tl, n, q.mode);
  // AdamW and SGD update in place, so the optimizer step records few events or none; it still
  // happens, after the backward, on the memory the backward left. Give it room to be seen: the
  // slots past the last event hold the memory after it.
  if (q.mode == MemoryMode::train) {
    s.optimizer_events =
        static_cast<std::size_t>(std::count(s.phase.begin(), s.phase.end(), "optimizer step"));
    const std::size_t room = std::max<std::size_t>(1, n / 7);
    if (s.optimizer_events < room) s.slots += room - s.optimizer_events;
  }
  return s;
}

// The event drawn in each column of the timeline: the largest total among the events the column
// covers, so that no spike (the peak included) falls between pixels. -1: the optimizer's slots.
std::vector<long> column_events(const Step& s, int columns) {
  std::vector<long> ev(static_cast<std::size_t>(columns));
  for (int c = 0; c < columns; ++c) {
    const std::size_t a = static_cast<std::size_t>(c) * s.slots / columns;
    const std::size_t b = std::max(a + 1, static_cast<std::size_t>(c + 1) * s.slots / columns);
    long best = -1;
    for (std::size_t i = a; i < std::min(b, s.events); ++i)
      if (best < 0 || s.in_use[i] > s.in_use[static_cast<std::size_t>(best)])
        best = static_cast<long>(i);
    ev[static_cast<std::size_t>(c)] = best;
  }
  return ev;
}

// A label on a white box, so that it reads over the areas and grid.
void boxed_text(Canvas& cv, int x, int y, const std::string& s, Rgb c, int scale, Align align,
                Rgb border = kWhite) {
  const int w = Canvas::text_width(s, scale), h = Canvas::text_height(scale);
  const int x0 = align == Align::left ? x : align == Align::center ? x - w / 2 : x - w;
  cv.fill_rect(x0 - 5, y - 4, w + 10, h + 8, kWhite);
  if (border != kWhite) cv.outline_rect(x0 - 5, y - 4, w + 10, h + 8, border);
  cv.text(x0, y, s, c, scale);
}

std::string percent(std::uint64_t part, std::uint64_t whole) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", whole ? 100.0 * part / whole : 0.0);
  return buf;
}

void draw_title(Canvas& cv, const std::string& model, const MemoryQuery& q, const MemoryResult& r,
                const Step& s) {
  const bool train = q.mode == MemoryMode::train;
  cv.text(40, 22, model + ": memory of one " + (train ? "training step" : "inference"), kInk, 3);
  std::string what =
      train ? std::string("train, ") + optimizer_name(q.optimizer) + ", recompute " +
                  std::to_string(q.recompute)
            : std::string("infer, ") + (std::count(s.phase.begin(), s.phase.end(), "decode")
                                            ? "prefill + decode"
                                            : "one forward");
  what += " | batch " + std::to_string(q.batch);
  if (q.seq > 0) what += ", seq " + std::to_string(q.seq);
  what += " | " + std::string(dtype_name(q.dtype)) + " | " + format_bytes(q.vram) + " card, " +
          format_bytes(q.reserve) + " reserve";
  cv.text(40, 56, what, kInk, 2);
  const std::string verdict =
      r.fits ? "FITS: peak " + format_bytes(r.peak) + " of " + format_bytes(r.available) +
                   " for the arena, " + format_bytes(r.available - r.peak) + " headroom"
      : r.peak <= r.available
          ? "DOES NOT FIT: peak " + format_bytes(r.peak) + " of " + format_bytes(r.available) +
                ", but no free block of " + format_bytes(r.ran_out_requested) + " at " +
                r.ran_out_at + " (fragmented)"
          : "DOES NOT FIT: peak " + format_bytes(r.peak) + " of " + format_bytes(r.available) +
                " for the arena, " + format_bytes(r.peak - r.available) + " short";
  cv.text(40, 80, verdict, r.fits ? kFits : kBudgetColour, 2);
}

void draw_y_axis(Canvas& cv, const MemoryPlotGeometry& g) {
  // Binary steps, 4 to 8 of them: tick labels read as whole MiB or GiB fractions.
  std::uint64_t step = 256;
  while (g.y_max / step > 8) step *= 2;
  for (std::uint64_t b = 0; b <= g.y_max; b += step) {
    const int y = g.y_of(b);
    if (b > 0) cv.hline(g.plot_x0, g.plot_x1 - 1, y, kGrid);
    cv.hline(g.plot_x0 - 6, g.plot_x0 - 1, y, kInk);
    cv.text(g.plot_x0 - 12, y - 7, format_bytes(b), kInk, 2, Align::right);
  }
  cv.text_up(18, (g.plot_y0 + g.plot_y1) / 2, "bytes in the arena", kInk, 2, Align::center);
}

void draw_x_axis(Canvas& cv, const MemoryPlotGeometry& g, const Step& s) {
  const int w = g.plot_x1 - g.plot_x0;
  std::size_t step = 1;
  for (std::size_t m = 1;; m *= 10) {
    if (s.events / m <= 10) {
      step = m;
      break;
    }
    if (s.events / (2 * m) <= 10) {
      step = 2 * m;
      break;
    }
    if (s.events / (5 * m) <= 10) {
      step = 5 * m;
      break;
    }
  }
  for (std::size_t e = 0; e <= s.events; e += step) {
    const int x = g.plot_x0 + static_cast<int>(e * w / s.slots);
    cv.vline(x, g.plot_y1, g.plot_y1 + 5, kInk);
    cv.text(x, g.plot_y1 + 12, std::to_string(e), kInk, 2, Align::center);
  }
  cv.text((g.plot_x0 + g.plot_x1) / 2, g.plot_y1 + 38,
          "arena events in order (each allocation or release is one step)", kInk, 2, Align::center);
}

// Phase names above the axes box and dashed separators inside it. A name may spill over a
// narrow phase as long as it does not run into its neighbour's.
void draw_phases(Canvas& cv, const MemoryPlotGeometry& g, const Step& s) {
  std::vector<std::pair<std::size_t, std::size_t>> runs;  // [begin, end) in slots
  std::vector<std::string> names;
  for (std::size_t i = 0; i < s.events; ++i) {
    if (names.empty() || s.phase[i] != names.back()) {
      if (!runs.empty()) runs.back().second = i;
      runs.push_back({i, s.slots});
      names.push_back(s.phase[i]);
    }
  }
  if (s.slots > s.events && names.back() != "optimizer step") {
    runs.back().second = s.events;
    runs.push_back({s.events, s.slots});
    names.push_back("optimizer step");
  }
  const int w = g.plot_x1 - g.plot_x0;
  auto x_of = [&](std::size_t slot) { return g.plot_x0 + static_cast<int>(slot * w / s.slots); };
  int taken_until = g.plot_x0 - 1000;
  for (std::size_t k = 0; k < runs.size(); ++k) {
    const int a = x_of(runs[k].first), b = x_of(runs[k].second);
    if (k > 0) cv.vline(a, g.plot_y0, g.plot_y1 - 1, kGrey, 1, 4);
    for (int scale : {2, 1}) {
      const int tw = Canvas::text_width(names[k], scale);
      int x = std::clamp((a + b) / 2 - tw / 2, g.plot_x0, g.plot_x1 - tw);
      if (x < taken_until + 12) continue;
      cv.text(x, g.plot_y0 - 12 - Canvas::text_height(scale), names[k], kInk, scale);
      taken_until = x + tw;
      break;
    }
  }
  if (s.slots > s.events && s.optimizer_events == 0) {
    const int a = x_of(s.events), b = g.plot_x1;
    const int scale = Canvas::text_width("in place", 2) < b - a - 8 ? 2 : 1;
    const int y = g.y_of(s.in_use[s.events - 1]) - 12 - 20 * scale;
    cv.text((a + b) / 2, y, "updates", kGrey, scale, Align::center);
    cv.text((a + b) / 2, y + 10 * scale, "in place", kGrey, scale, Align::center);
  }
}

// The card's reserve: a hatched band from the arena budget up to the card's size, drawn under
// everything so that a step which does not fit shows its areas running into it.
void draw_reserve(Canvas& cv, const MemoryPlotGeometry& g, const MemoryQuery& q) {
  if (g.budget_y < 0) return;
  const int card_y = g.y_of(q.vram);
  cv.fill_rect(g.plot_x0, card_y, g.plot_x1 - g.plot_x0, g.budget_y - card_y, kReserveFill);
  cv.hatch_rect(g.plot_x0, card_y, g.plot_x1 - g.plot_x0, g.budget_y - card_y, kReserveHatch, 9);
}

// The card line, the budget line and their labels; returns the lowest row the labels take
// (the peak's label goes below it).
int draw_budget(Canvas& cv, const MemoryPlotGeometry& g, const MemoryQuery& q,
                const MemoryResult& r) {
  if (g.budget_y < 0) {
    boxed_text(cv, g.plot_x1 - 10, g.plot_y0 + 10,
               "arena budget " + format_bytes(r.available) + " (" + format_bytes(q.vram) +
                   " card - " + format_bytes(q.reserve) + " reserve) is far above this scale",
               kBudgetColour, 2, Align::right);
    return g.plot_y0 + 32;
  }
  const int card_y = g.y_of(q.vram);
  cv.hline(g.plot_x0, g.plot_x1 - 1, card_y, kCard);
  boxed_text(cv, g.plot_x1 - 10, card_y - 22, "card " + format_bytes(q.vram), kCard, 2,
             Align::right);
  cv.hline(g.plot_x0, g.plot_x1 - 1, g.budget_y, kBudgetColour, 2);
  const std::string budget = "arena budget " + format_bytes(r.available);
  if (g.budget_y - card_y >= 30) {  // both labels inside the band, one left, one right
    boxed_text(cv, g.plot_x0 + 12, card_y + 8,
               "reserve " + format_bytes(q.reserve) + ": CUDA context, libraries", kGrey, 2,
               Align::left);
    boxed_text(cv, g.plot_x1 - 10, g.budget_y - 22, budget, kBudgetColour, 2, Align::right);
    return g.budget_y + 4;
  }
  boxed_text(cv, g.plot_x1 - 10, g.budget_y + 10,
             budget + " = card - " + format_bytes(q.reserve) + " reserve", kBudgetColour, 2,
             Align::right);
  return g.budget_y + 32;
}

// A marker on the peak and its label: above it when there is room under the budget's labels,
// otherwise beside it, on the left where the step is still climbing.
void draw_peak(Canvas& cv, const MemoryPlotGeometry& g, const MemoryResult& r, int ceiling) {
  const int py = g.y_of(r.peak);
  for (int d = 0; d < 9; ++d) cv.hline(g.peak_x - 8 + d, g.peak_x + 8 - d, py - 12 + d, kInk);
  const std::string label = "peak " + format_bytes(r.peak) + " in '" + r.peak_at + "'";
  const int tw = Canvas::text_width(label, 2);
  if (py - 44 >= ceiling || !r.fits) {
    const int x = std::clamp(g.peak_x - tw / 2, g.plot_x0 + 8, g.plot_x1 - tw - 8);
    const int y = py - 44;
    cv.vline(g.peak_x, y + 16, py - 13, kInk);
    boxed_text(cv, x, y, label, kInk, 2, Align::left, kInk);
    return;
  }
  const int y = std::max(py - 11, ceiling + 4);
  const bool left = g.peak_x - 20 - tw >= g.plot_x0 + 8;
  const int x = left ? g.peak_x - 20 - tw : g.peak_x + 20;
  cv.line(left ? x + tw + 5 : x - 5, y + 7, left ? g.peak_x - 9 : g.peak_x + 9, py - 8, kInk);
  boxed_text(cv, x, y, label, kInk, 2, Align::left, kInk);
}

// The peak's categories as one bar on the timeline's scale, labelled on the right.
void draw_breakdown(Canvas& cv, const MemoryPlotGeometry& g, const MemoryResult& r) {
  struct Label {
    int want_y;
    int y;
    int c;
  };
  std::vector<Label> labels;
  std::uint64_t below = 0;
  for (int i = 0; i < kNumCategories; ++i) {
    const std::uint64_t b = r.at_peak[i];
    if (b == 0) continue;
    const int y1 = g.y_of(below), y0 = g.y_of(below + b);
    cv.fill_rect(g.bar_x0, y0, g.bar_x1 - g.bar_x0, std::max(1, y1 - y0),
                 category_colour(category_at(i)));
    labels.push_back({(y0 + y1) / 2, 0, i});
    below += b;
  }
  cv.outline_rect(g.bar_x0, g.y_of(below), g.bar_x1 - g.bar_x0, g.plot_y1 - g.y_of(below) + 1,
                  kInk);
  cv.text((g.bar_x0 + g.bar_x1) / 2, g.y_of(below) - 44, "at the peak", kInk, 2, Align::center);
  cv.text((g.bar_x0 + g.bar_x1) / 2, g.y_of(below) - 22, format_bytes(below), kInk, 2,
          Align::center);
  // Two text lines a label; spread them so none overlaps, top to bottom, inside the axes.
  constexpr int kPitch = 44;
  std::reverse(labels.begin(), labels.end());
  int next = g.plot_y0;
  for (Label& l : labels) next = (l.y = std::max(l.want_y - 14, next)) + kPitch;
  int limit = g.plot_y1 - kPitch + 8;
  for (auto it = labels.rbegin(); it != labels.rend(); ++it)
    limit = (it->y = std::min(it->y, limit)) - kPitch;
  const int lx = g.bar_x1 + 34;
  for (const Label& l : labels) {
    const Category c = category_at(l.c);
    cv.line(g.bar_x1 + 2, l.want_y, lx - 6, l.y + 7, kGrey);
    cv.fill_rect(lx, l.y, 14, 14, category_colour(c));
    cv.text(lx + 22, l.y, category_name(c), kInk, 2);
    cv.text(lx + 22, l.y + 19, format_bytes(r.at_peak[l.c]) + "  " + percent(r.at_peak[l.c], below),
            kGrey, 2);
  }
}

void draw_legend(Canvas& cv, const MemoryPlotGeometry& g, const Step& s) {
  int x = g.plot_x0;
  const int y = g.plot_y1 + 72;
  for (int i = 0; i < kNumCategories; ++i) {
    bool present = false;
    for (const CategoryBytes& b : s.bytes) present = present || b[i] > 0;
    if (!present) continue;
    const Category c = category_at(i);
    cv.fill_rect(x, y, 16, 16, category_colour(c));
    cv.text(x + 24, y + 1, category_name(c), kInk, 2);
    x += 24 + Canvas::text_width(category_name(c), 2) + 34;
  }
}

}  // namespace

Rgb category_colour(Category c) {
  switch (c) {
    case Category::parameter:
      return {52, 96, 160};
    case Category::gradient:
      return {118, 163, 214};
    case Category::optimizer_state:
      return {232, 138, 48};
    case Category::master_weight:
      return {244, 198, 118};
    case Category::activation:
      return {78, 164, 98};
    case Category::kv_cache:
      return {152, 112, 188};
    case Category::workspace:
      return {150, 98, 70};
  }
  return {0, 0, 0};
}

int MemoryPlotGeometry::y_of(std::uint64_t bytes) const {
  const double f = static_cast<double>(bytes) / static_cast<double>(y_max);
  return plot_y1 - static_cast<int>(std::lround(f * (plot_y1 - plot_y0)));
}

Canvas render_memory_plot(const std::string& model, const MemoryQuery& q, const MemoryResult& r,
                          MemoryPlotGeometry* geometry) {
  const Step s = prepare(q, r);
  MemoryPlotGeometry g;
  g.plot_x0 = 150, g.plot_x1 = 1190, g.plot_y0 = 150, g.plot_y1 = kHeight - 130;
  g.bar_x0 = 1250, g.bar_x1 = 1300;
  // The card and its reserve are drawn when the step uses a fair share of them; a tiny model
  // on a 4 GiB card would otherwise be a flat line at zero.
  const bool budget_on_scale = r.peak * 5 >= r.available;
  const std::uint64_t top = budget_on_scale ? std::max(q.vram, r.peak) : r.peak;
  g.y_max = std::max<std::uint64_t>(top + top / 12, 1024);
  if (budget_on_scale) g.budget_y = g.y_of(r.available);

  Canvas cv(kWidth, kHeight);
  draw_title(cv, model, q, r, s);
  draw_reserve(cv, g, q);
  draw_y_axis(cv, g);

  const int columns = g.plot_x1 - g.plot_x0;
  const std::vector<long> ev = column_events(s, columns);
  std::vector<int> peak_columns;
  for (int c = 0; c < columns; ++c) {
    const long e = ev[static_cast<std::size_t>(c)];
    const CategoryBytes& b = s.bytes[e < 0 ? s.events - 1 : static_cast<std::size_t>(e)];
    std::uint64_t below = 0;
    const int x = g.plot_x0 + c;
    for (int i = 0; i < kNumCategories; ++i) {
      if (b[i] == 0) continue;
      const int y1 = g.y_of(below), y0 = g.y_of(below + b[i]);
      cv.vline(x, y0, y1 - 1, category_colour(category_at(i)));
      below += b[i];
    }
    // What does not fit: red stripes over the part of the step above the budget.
    for (int y = g.y_of(below); g.budget_y >= 0 && y < g.budget_y; ++y)
      if ((x + y) % 12 < 3) cv.set(x, y, kBudgetColour);
    if (e == static_cast<long>(s.peak_event)) peak_columns.push_back(c);
  }
  g.peak_x = g.plot_x0 + peak_columns[peak_columns.size() / 2];

  draw_phases(cv, g, s);
  const int ceiling = draw_budget(cv, g, q, r);
  draw_x_axis(cv, g, s);
  draw_peak(cv, g, r, ceiling);
  cv.outline_rect(g.plot_x0 - 1, g.plot_y0, columns + 2, g.plot_y1 - g.plot_y0 + 1, kInk);
  draw_breakdown(cv, g, r);
  draw_legend(cv, g, s);
  cv.text(kWidth - 20, kHeight - 24,
          "cugpt memory: the real allocation sequence, run on the meta device", kGrey, 1,
          Align::right);
  if (geometry) *geometry = g;
  return cv;
}

void write_memory_plot(const std::string& path, const std::string& model, const MemoryQuery& q,
                       const MemoryResult& r) {
  write_png(path, render_memory_plot(model, q, r));
}

}  // namespace cugpt::viz
