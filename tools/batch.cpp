#include "tools/batch.h"

#include <cerrno>
#include <cstdlib>
#include <limits>

#include "io/printable.h"

namespace cugpt {

std::vector<std::vector<std::int32_t>> parse_token_rows(const std::string& text, const char* what) {
  std::vector<std::vector<std::int32_t>> rows(1);
  std::string item;
  bool after_comma = false;  // "1,2," ends its row with an empty entry, not a complete row
  const auto flush = [&](bool end_of_row) {
    std::size_t a = item.find_first_not_of(" \t\n");
    std::size_t b = item.find_last_not_of(" \t\n");
    const std::string s = a == std::string::npos ? "" : item.substr(a, b - a + 1);
    item.clear();
    if (s.empty()) {
      if (end_of_row && rows.back().empty())
        throw Error(std::string(what) + ": empty sequence " + std::to_string(rows.size()) +
                    " in '" + printable(text) + "'");
      if (!end_of_row || after_comma)
        throw Error(std::string(what) + ": empty entry in sequence " + std::to_string(rows.size()) +
                    " of '" + printable(text) + "'");
      return;
    }
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (*end != '\0' || errno == ERANGE || v < std::numeric_limits<std::int32_t>::min() ||
        v > std::numeric_limits<std::int32_t>::max())
      throw Error(std::string(what) + ": '" + printable(s) + "' is not an integer id");
    rows.back().push_back(static_cast<std::int32_t>(v));
  };
  if (text.find_first_not_of(" \t\n") == std::string::npos)
    throw Error(std::string(what) + ": empty input");
  for (char c : text) {
    if (c == ',') {
      flush(false);
      after_comma = true;
    } else if (c == ';') {
      flush(true);
      rows.emplace_back();
      after_comma = false;
    } else {
      item += c;
      if (c != ' ' && c != '\t' && c != '\n') after_comma = false;
    }
  }
  flush(true);
  return rows;
}

Batch make_batch(const ModelConfig& config, const std::vector<std::vector<std::int32_t>>& rows,
                 const std::vector<std::vector<std::int32_t>>* mask) {
  if (rows.empty()) throw Error("empty input: no sequences");
  std::size_t T = 0;
  for (const auto& r : rows) T = std::max(T, r.size());
  const bool pads = config.family == ModelFamily::roberta;
  for (std::size_t b = 0; b < rows.size(); ++b) {
    if (rows[b].size() != rows[0].size() && !pads)
      throw Error("sequences have different lengths (" + std::to_string(rows[0].size()) + " and " +
                  std::to_string(rows[b].size()) + " tokens): " + family_name(config.family) +
                  " batches must be rectangular");
  }
  if (mask && mask->size() != rows.size())
    throw Error("mask has " + std::to_string(mask->size()) + " rows for " +
                std::to_string(rows.size()) + " sequences");
  Batch batch;
  batch.B = static_cast<std::int64_t>(rows.size());
  batch.T = static_cast<std::int64_t>(T);
  bool padded = false;
  for (std::size_t b = 0; b < rows.size(); ++b) {
    if (mask && (*mask)[b].size() != rows[b].size())
      throw Error("mask row " + std::to_string(b) + " has " + std::to_string((*mask)[b].size()) +
                  " entries for " + std::to_string(rows[b].size()) + " tokens");
    for (std::size_t t = 0; t < T; ++t) {
      const bool real = t < rows[b].size();
      padded |= !real;
      batch.tokens.push_back(real ? rows[b][t] : static_cast<std::int32_t>(config.pad_token_id));
      batch.attention_mask.push_back(real ? (mask ? (*mask)[b][t] : 1) : 0);
    }
  }
  if (!padded && !mask) batch.attention_mask.clear();  // all ones: no mask needed
  if (!pads && mask)
    for (std::int32_t m : batch.attention_mask)
      if (m != 1) throw Error("a padding mask needs a bidirectional model (roberta)");
  return batch;
}

}  // namespace cugpt
