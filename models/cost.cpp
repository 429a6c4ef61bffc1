#include "models/cost.h"

namespace cugpt {

namespace {

// Weight-matrix elements per layer: attention 4C^2, FFN 2C·F.
double layer_matrix_elems(const ModelConfig& c) {
  return 4.0 * c.n_embd * c.n_embd + 2.0 * c.n_embd * c.ffn_dim;
}

// (query, key) pairs of a sequence of T tokens: all of them, or the causal triangle.
double attended_pairs(const ModelConfig& c, double T) {
  return c.causal() ? T * (T + 1) / 2 : T * T;
}

double weight_bytes(const Model& model) {
  double bytes = 0;
  for (const auto& p : model.named_parameters()) bytes += static_cast<double>(p.tensor.nbytes());
  return bytes;
}

}  // namespace

ForwardCost forward_cost(const Model& model, std::int64_t B, std::int64_t T) {
  const ModelConfig& c = model.config();
  const double es = static_cast<double>(dtype_size(model.dtype()));
  const double tokens = static_cast<double>(B) * T, C = static_cast<double>(c.n_embd);
  const double V = static_cast<double>(c.vocab_size), F = static_cast<double>(c.ffn_dim);
  ForwardCost r;
  double matmul = c.n_layer * layer_matrix_elems(c) + C * V;  // + the lm_head / decoder
  if (c.family == ModelFamily::roberta) matmul += C * C;      // the LM head's dense
  r.flops =
      2.0 * tokens * matmul + 4.0 * B * c.n_layer * C * attended_pairs(c, static_cast<double>(T));
  r.weight_bytes = weight_bytes(model);
  // Per layer, an ideal fused forward reads and writes the residual stream around each
  // sublayer and the q/k/v, attention and FFN intermediates once: x in, ln out, qkv out
  // (3C), attention in (3C) and out, proj out, residual in/out, ln out, fc out (F) and in
  // (F), proj out, residual in/out.
  const double per_layer = 14.0 * C + 2.0 * F;
  r.min_bytes = r.weight_bytes + tokens * es * (c.n_layer * per_layer + 2 * C) + tokens * V * es;
  return r;
}

ForwardCost decode_cost(const Model& model, std::int64_t B, std::int64_t context) {
  const ModelConfig& c = model.config();
  ForwardCost r = forward_cost(model, B, 1);
  const double es = static_cast<double>(dtype_size(model.dtype()));
  const double C = static_cast<double>(c.n_embd);
  r.flops = 2.0 * B * (c.n_layer * layer_matrix_elems(c) + C * c.vocab_size) +
            4.0 * B * c.n_layer * C * static_cast<double>(context);
  const double kv_bytes = 2.0 * B * c.n_layer * C * static_cast<double>(context) * es;
  r.min_bytes = r.weight_bytes + kv_bytes;
  return r;
}

}  // namespace cugpt
