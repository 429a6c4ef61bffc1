// Loading a model's weights with its family's naming rules: GPT-2 files without the
// "transformer." prefix, and the attention-mask buffers old GPT-2 checkpoints carry. Any
// checkpoint loads on any device: a file in another floating dtype than the model's is
// converted (a bf16 file trained on a GPU loads into the cpu's f32 model), and the report says
// so for the caller to tell the user once.
#pragma once

#include <string>

#include "io/checkpoint.h"
#include "models/model.h"

namespace cugpt {

// LoadOptions::convert_dtype is on whatever `options` says: the model's dtype is the compute
// dtype, the file's only how it was stored.
LoadReport load_weights(Model& model, const std::string& path, LoadOptions options = {});

// `--dtype` is the dtype a model computes in: throws a one-line error when `device` cannot
// compute in it (the cpu runs f32 and f64 kernels, cuda f32, bf16 and f16; meta computes
// nothing, so any dtype).
void check_compute_dtype(Device device, DType dtype);

}  // namespace cugpt
