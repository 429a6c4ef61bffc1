// Fresh weights: normal(0, std) for matrices and embedding tables, zeros for biases, ones and
// zeros for LayerNorm. Deterministic for a seed on every machine (own Box-Muller over
// mt19937_64, not std::normal_distribution, whose output differs between standard libraries).
#pragma once

#include <cstdint>

#include "nn/module.h"

namespace cugpt {

void init_parameters(Module& model, std::uint64_t seed, double std = 0.02);

}  // namespace cugpt
