#include "models/factory.h"

#include "models/roberta.h"

namespace cugpt {

namespace {

void check_dtype(DType dtype) {
  if (dtype == DType::i32) throw Error("models hold floating-point weights: f32, bf16, f16 or f64");
}

}  // namespace

bool is_causal_lm(const ModelConfig& config) {
  return config.family == ModelFamily::gpt_day18 || config.family == ModelFamily::gpt2;
}

std::unique_ptr<Gpt> build_gpt(const ModelConfig& config, const std::shared_ptr<Arena>& arena,
                               DType dtype, const char* what) {
  check_dtype(dtype);
  if (!is_causal_lm(config))
    throw Error(config.name + " is an encoder (roberta): " + what +
                " needs a GPT-family (causal LM) config");
  return std::make_unique<Gpt>(config, arena, dtype);
}

std::unique_ptr<Model> build_model(const ModelConfig& config, const std::shared_ptr<Arena>& arena,
                                   DType dtype) {
  check_dtype(dtype);
  switch (config.family) {
    case ModelFamily::gpt_day18:
    case ModelFamily::gpt2:
      return std::make_unique<Gpt>(config, arena, dtype);
    case ModelFamily::roberta:
      return std::make_unique<Roberta>(config, arena, dtype);
  }
  throw Error("unknown model family");
}

}  // namespace cugpt
