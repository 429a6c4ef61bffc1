#include "models/weights.h"

namespace cugpt {

LoadReport load_weights(Model& model, const std::string& path, LoadOptions options) {
  for (const auto& p : model.optional_prefixes()) options.optional_prefixes.push_back(p);
  if (model.config().family == ModelFamily::gpt2) {
    // Causal-mask buffers saved by older transformers versions; not parameters.
    options.ignored_suffixes.push_back(".attn.bias");
    options.ignored_suffixes.push_back(".attn.masked_bias");
  }
  options.convert_dtype = true;
  return load_checkpoint(model, path, options);
}

void check_compute_dtype(Device device, DType dtype) {
  if (dtype == DType::i32) throw Error("--dtype i32: token ids are no compute dtype");
  if (device.is_cpu() && dtype != DType::f32 && dtype != DType::f64)
    throw Error(std::string("--dtype ") + dtype_name(dtype) +
                ": the cpu computes in f32 or f64; leave --dtype at f32 and a " +
                dtype_name(dtype) + " checkpoint is converted on load");
  if (device.is_cuda() && dtype == DType::f64)
    throw Error("--dtype f64: the cuda kernels compute in f32, bf16 or f16");
}

}  // namespace cugpt
