#include "models/weights.h"

namespace cugpt {

LoadReport load_weights(Model& model, const std::string& path, LoadOptions options) {
  for (const auto& p : model.optional_prefixes()) options.optional_prefixes.push_back(p);
  if (model.config().family == ModelFamily::gpt2) {
    // Causal-mask buffers saved by older transformers versions; not parameters.
    options.ignored_suffixes.push_back(".attn.bias");
    options.ignored_suffixes.push_back(".attn.masked_bias");
  }
  return load_checkpoint(model, path, options);
}

}  // namespace cugpt
