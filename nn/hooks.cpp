#include "nn/hooks.h"

#include <utility>

namespace cugpt {

namespace {

bool match_from(const std::string& p, std::size_t i, const std::string& s, std::size_t j) {
  if (i == p.size()) return j == s.size();
  if (p[i] == '*') {
    const bool across = i + 1 < p.size() && p[i + 1] == '*';
    const std::size_t next = i + (across ? 2 : 1);
    // Try every length of the run the star takes, stopping at a '.' unless it is '**'.
    for (std::size_t k = j;; ++k) {
      if (match_from(p, next, s, k)) return true;
      if (k == s.size() || (!across && s[k] == '.')) return false;
    }
  }
  return j < s.size() && p[i] == s[j] && match_from(p, i + 1, s, j + 1);
}

bool any_match(const std::vector<std::string>& patterns, const std::string& name) {
  for (const auto& p : patterns)
    if (glob_match(p, name)) return true;
  return false;
}

}  // namespace

bool glob_match(const std::string& pattern, const std::string& name) {
  return match_from(pattern, 0, name, 0);
}

void Hooks::capture_outputs(const std::vector<std::string>& patterns) {
  outputs_.insert(outputs_.end(), patterns.begin(), patterns.end());
}

void Hooks::capture_attention(const std::vector<std::string>& patterns) {
  attention_.insert(attention_.end(), patterns.begin(), patterns.end());
}

bool Hooks::wants_output(const std::string& name) const {
  return !name.empty() && any_match(outputs_, name);
}

bool Hooks::wants_attention(const std::string& name) const {
  return !name.empty() && any_match(attention_, name);
}

void Hooks::record(const std::string& name, const Tensor& t, const std::string& note) {
  if (t.device().is_meta()) return;
  record(Capture{name, t.shape(), t.to_floats(), note});
}

void Hooks::record(Capture capture) {
  captures_.push_back(std::move(capture));
}

const Capture* Hooks::find(const std::string& name) const {
  for (const auto& c : captures_)
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace cugpt
