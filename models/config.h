// Model configs from JSON with Hugging Face config.json field names (gpt2, roberta) plus the
// Day-18 model's own keys. Every tool takes a path or a bundled name ("gpt-day18").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/activation.h"

namespace cugpt {

enum class ModelFamily { gpt_day18, gpt2, roberta };
const char* family_name(ModelFamily f);

struct ModelConfig {
  std::string name;    // bundled name or the file's stem
  std::string origin;  // the file it was read from
  ModelFamily family = ModelFamily::gpt2;
  std::int64_t vocab_size = 0;
  std::int64_t max_positions = 0;    // block_size / n_positions / max_position_embeddings
  std::int64_t type_vocab_size = 0;  // roberta only
  std::int64_t n_embd = 0;
  std::int64_t n_layer = 0;
  std::int64_t n_head = 0;
  std::int64_t ffn_dim = 0;  // 4 * n_embd for the GPTs, intermediate_size for roberta
  double layer_norm_eps = 1e-5;
  kernels::Activation activation = kernels::Activation::gelu_tanh;
  std::int64_t pad_token_id = -1;  // roberta only

  std::int64_t head_dim() const { return n_embd / n_head; }
  // The longest sequence the position table allows: RoBERTa's positions start after the
  // padding id, so two of its 514 rows are never a token's.
  std::int64_t max_sequence() const {
    return family == ModelFamily::roberta ? max_positions - pad_token_id - 1 : max_positions;
  }
  bool causal() const { return family != ModelFamily::roberta; }
};

// Parses JSON text; `origin` names the source in error messages. Throws cugpt::Error with one
// line naming the field for a missing, wrongly typed, out-of-range or inconsistent value.
ModelConfig parse_config(const std::string& json_text, const std::string& origin,
                         const std::string& name);
// Reads a config from a path, or from configs/<name>.json for a bundled name.
ModelConfig load_config(const std::string& path_or_name);
// Names of the configs bundled in configs/.
std::vector<std::string> bundled_configs();

}  // namespace cugpt
