// Loading a model's weights with its family's naming rules: GPT-2 files without the
// "transformer." prefix, and the attention-mask buffers old GPT-2 checkpoints carry.
#pragma once

#include <string>

#include "io/checkpoint.h"
#include "models/model.h"

namespace cugpt {

LoadReport load_weights(Model& model, const std::string& path, LoadOptions options = {});

}  // namespace cugpt
