#include "models/model.h"

namespace cugpt {

void Model::validate(const Batch& b) const {
  if (b.B <= 0 || b.T <= 0) throw Error("empty input: no tokens");
  if (static_cast<std::int64_t>(b.tokens.size()) != b.B * b.T)
    throw Error("input has " + std::to_string(b.tokens.size()) + " tokens for a batch of " +
                std::to_string(b.B) + "x" + std::to_string(b.T));
  if (b.T > max_sequence())
    throw Error("sequence of " + std::to_string(b.T) + " tokens is longer than the " +
                std::to_string(max_sequence()) + " positions of " + config_.name);
  for (std::size_t i = 0; i < b.tokens.size(); ++i) {
    const std::int32_t t = b.tokens[i];
    if (t < 0 || t >= config_.vocab_size)
      throw Error("token id " + std::to_string(t) + " at batch " +
                  std::to_string(i / static_cast<std::size_t>(b.T)) + ", position " +
                  std::to_string(i % static_cast<std::size_t>(b.T)) +
                  " is outside the vocabulary [0, " + std::to_string(config_.vocab_size) + ")");
  }
  if (!b.attention_mask.empty()) {
    if (b.attention_mask.size() != b.tokens.size())
      throw Error("attention mask has " + std::to_string(b.attention_mask.size()) +
                  " entries for " + std::to_string(b.tokens.size()) + " tokens");
    for (std::int32_t m : b.attention_mask)
      if (m != 0 && m != 1) throw Error("attention mask entries must be 0 or 1");
  }
}

}  // namespace cugpt
