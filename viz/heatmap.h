// Attention maps as pictures (for `cugpt inspect`): one head's [T, T] matrix of probabilities,
// rows the query positions and columns the key positions, on a perceptually ordered colour ramp
// (dark violet for 0 through blue and green to yellow for 1), with a colour bar, a title, and
// the tokens along both axes (every one while the cells are large enough to read them, a
// readable subset with their positions beyond).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "viz/canvas.h"

namespace cugpt::viz {

// The ramp: viridis-like, interpolated between five control points. p is clamped to [0, 1];
// NaN is drawn mid-grey.
Rgb heatmap_colour(float p);

struct HeatmapGeometry {
  int x0 = 0, y0 = 0;   // the matrix's top-left pixel
  int cell = 0;         // pixels per cell, each way: 1200 / T clamped to [1, 40]
  bool labels = false;  // whether the tokens were drawn
  // Every label_step-th token is labelled (1: all): at least 20 pixels between labels, so past
  // about 60 tokens the labels are thinned, each prefixed by its position.
  int label_step = 1;
};

// probs: T * T values, row-major (probs[q * T + k]); labels: T token strings, or none.
Canvas render_attention_heatmap(const std::vector<float>& probs, std::int64_t T,
                                const std::vector<std::string>& labels, const std::string& title,
                                HeatmapGeometry* geometry = nullptr);

// Throws cugpt::Error naming the path on failure, leaving no file behind.
void write_attention_heatmap(const std::string& path, const std::vector<float>& probs,
                             std::int64_t T, const std::vector<std::string>& labels,
                             const std::string& title);

}  // namespace cugpt::viz
