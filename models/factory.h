// The one place that picks a model family from a config. The families do not include it.
#pragma once

#include <memory>

#include "models/gpt.h"
#include "models/model.h"

namespace cugpt {

// Any family, for what every model does (forward, parameter reports, checkpoints).
std::unique_ptr<Model> build_model(const ModelConfig& config, const std::shared_ptr<Arena>& arena,
                                   DType dtype);

// The GPT families (Day-18, GPT-2): the causal LMs that train and generate. An encoder's config
// is a one-line error naming it and what was asked (`what`: "training", "generation", ...).
std::unique_ptr<Gpt> build_gpt(const ModelConfig& config, const std::shared_ptr<Arena>& arena,
                               DType dtype, const char* what = "this");

// Whether the config is a causal LM (build_gpt accepts it).
bool is_causal_lm(const ModelConfig& config);

}  // namespace cugpt
