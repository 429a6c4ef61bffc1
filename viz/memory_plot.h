// The picture of one simulated step's memory (`cugpt memory --plot`): the arena timeline as
// areas stacked by category, the card's reserve as its own band above the arena budget, the
// peak marked with the operation running at it, phase separators (setup, forward, loss,
// backward, optimizer step; prefill and decode for inference), and beside it a bar of the
// categories at the peak. Every number drawn comes from the simulation's result.
#pragma once

#include <cstdint>
#include <string>

#include "train/memory_plan.h"
#include "viz/canvas.h"

namespace cugpt::viz {

// Stacking order, bottom to top, and legend order: enum order, so the persistent categories
// (flat through the step) sit under the transient ones.
Rgb category_colour(Category c);
constexpr Rgb kBudgetColour{200, 30, 45};

// Where things landed, for tests and for callers that annotate further.
struct MemoryPlotGeometry {
  int plot_x0 = 0, plot_y0 = 0, plot_x1 = 0, plot_y1 = 0;  // the timeline's axes box
  std::uint64_t y_max = 0;                                 // bytes at plot_y0
  int peak_x = 0;                                          // the column drawn at the peak event
  int budget_y = -1;           // the budget line's row; -1 when the budget is off the scale
  int bar_x0 = 0, bar_x1 = 0;  // the breakdown bar's columns (same y scale as the timeline)
  int y_of(std::uint64_t bytes) const;  // the row of a byte count
};

// `q` is the query as run, with q.seq the actual sequence length (the model's longest when the
// user gave none); `r` must carry its timeline (MemoryQuery::timeline).
Canvas render_memory_plot(const std::string& model, const MemoryQuery& q, const MemoryResult& r,
                          MemoryPlotGeometry* geometry = nullptr);

void write_memory_plot(const std::string& path, const std::string& model, const MemoryQuery& q,
                       const MemoryResult& r);

}  // namespace cugpt::viz
