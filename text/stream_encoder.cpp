#include "text/stream_encoder.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "kernels/error.h"

namespace cugpt {

namespace {

std::string size_text(std::uint64_t b) {
  // Plain units, as format_bytes (nn/) would say them; text/ needs nothing from nn/.
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  char out[32];
  std::snprintf(out, sizeof out, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return out;
}

// A place found not to be a cut is searched again this far back: a special token that could
// still have started there (its bytes ran to the end) may be ruled out once more text came.
constexpr std::size_t kResearch = 4096;

}  // namespace

StreamEncoder::StreamEncoder(const Tokenizer& tok, std::uint64_t max_held, std::string what,
                             Emit emit, std::size_t min_part, std::string raise)
    : tok_(tok),
      max_held_(max_held),
      min_part_(min_part),
      what_(std::move(what)),
      raise_(std::move(raise)),
      emit_(std::move(emit)) {}

void StreamEncoder::emit_part(std::size_t cut, bool last) {
  const std::vector<std::int32_t> ids =
      tok_.encode_part(std::string_view(held_).substr(0, cut), first_, last);
  first_ = false;
  ids_ += ids.size();
  held_.erase(0, cut);
  searched_ = 0;
  if (!ids.empty()) emit_(ids);
}

void StreamEncoder::feed(std::string_view bytes) {
  if (finished_) throw Error(what_ + ": fed after the end");
  held_.append(bytes.data(), bytes.size());
  bytes_ += bytes.size();
  peak_held_ = std::max<std::uint64_t>(peak_held_, held_.size());
  if (held_.size() < min_part_) return;
  const std::size_t cut = tok_.last_cut(held_, searched_);
  if (cut > 0) {
    emit_part(cut, false);
    return;
  }
  searched_ = held_.size() > kResearch ? held_.size() - kResearch : 0;
  if (held_.size() > max_held_)
    throw Error(what_ + ": " + size_text(held_.size()) +
                " of text with no place to cut it for streaming (a run without whitespace "
                "longer than the " +
                size_text(max_held_) + " held at most" + (raise_.empty() ? "" : ": " + raise_) +
                ")");
}

void StreamEncoder::finish() {
  if (finished_) return;
  finished_ = true;
  emit_part(held_.size(), true);
}

}  // namespace cugpt
