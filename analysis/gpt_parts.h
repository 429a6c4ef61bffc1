// Where the analyses read and write inside a GPT (either naming scheme): the hook names of the
// residual stream, of each attention's per-head outputs and of each MLP, and host f32 copies of
// the weights that map those values to logits (the output projections, the final LayerNorm, the
// unembedding). RoBERTa is not a causal language model and is refused.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/model.h"
#include "nn/hooks.h"

namespace cugpt::analysis {

struct GptParts {
  std::int64_t L = 0, H = 0, C = 0, D = 0, V = 0;
  double eps = 1e-5;
  // Hook names. resid[0] is the embeddings' sum, resid[l + 1] block l's output: L + 1 points.
  std::vector<std::string> resid, heads, mlp, attention;  // heads: "<attention>.heads"
  // Host weights, f32. w_o[l]: (C, C) stored [in, out] (out_j = sum_i y_i w_o[i C + j]).
  std::vector<std::vector<float>> w_o, b_o;  // b_o[l] empty when the projection has no bias
  std::vector<float> ln_gamma, ln_beta;      // (C)
  std::vector<float> w_u, b_u;               // (V, C) and (V) or empty
  const Tensor* ln_f_weight = nullptr;       // the same on the model's device
  const Tensor* ln_f_bias = nullptr;
  const Tensor* unembed = nullptr;       // (V, C)
  const Tensor* unembed_bias = nullptr;  // or nullptr
};

// Throws, naming the command, for a model that is not a GPT.
GptParts gpt_parts(Model& model, const std::string& command);

// One forward of the batch with these hooks attached (detached again afterwards, also on
// error): the logits (B, T, V) as host f32.
std::vector<float> run_logits(Model& model, Hooks& hooks, const Batch& batch);

// The mean over every row of a captured (..., N) value: the "mean" of a mean ablation.
std::vector<float> mean_row(const Capture& c);

// The capture of that name, or a one-line error (a hook name that matched nothing).
const Capture& need(const Hooks& hooks, const std::string& name);

}  // namespace cugpt::analysis
