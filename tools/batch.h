// Token batches from the command line: "1,2,3;4,5,6" is two sequences of three tokens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/model.h"

namespace cugpt {

// Parses rows of comma-separated integers separated by ';'. Throws on empty input, empty rows
// and anything that is not an integer in int32 range (range against the vocabulary is the
// model's check, so a negative id is reported there with its position).
std::vector<std::vector<std::int32_t>> parse_token_rows(const std::string& text,
                                                        const char* what = "tokens");

// Makes a rectangular batch. Causal models reject rows of different lengths; RoBERTa pads
// short rows with pad_token_id and masks them. An explicit mask (same row lengths as the
// tokens) replaces the derived one.
Batch make_batch(const ModelConfig& config, const std::vector<std::vector<std::int32_t>>& rows,
                 const std::vector<std::vector<std::int32_t>>* mask = nullptr);

}  // namespace cugpt
