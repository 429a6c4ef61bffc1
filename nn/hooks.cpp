#include "nn/hooks.h"

#include <utility>

#include "kernels/error.h"

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

void Hooks::write(Write w) {
  if (w.pattern.empty()) throw Error("hook write: empty name pattern");
  if (w.col_begin < 0) throw Error("hook write: negative first column");
  writes_.push_back(std::move(w));
}

namespace {

// Applies one write to the host copy v of a (B, T, N) value (any rank: the last dimension is N,
// the one before it T, the rest B).
void apply_write(const Write& w, const std::string& name, const Shape& shape,
                 std::vector<float>& v) {
  const int nd = shape.ndim();
  const std::int64_t N = nd >= 1 ? shape[nd - 1] : 1, T = nd >= 2 ? shape[nd - 2] : 1;
  const std::int64_t rows = N > 0 ? static_cast<std::int64_t>(v.size()) / N : 0, B = rows / T;
  const std::int64_t count = w.col_count < 0 ? N - w.col_begin : w.col_count;
  if (w.col_begin + count > N || count < 0)
    throw Error("hook write at " + name + ": columns " + std::to_string(w.col_begin) + "+" +
                std::to_string(count) + " of rows of " + std::to_string(N));
  if (w.position >= T)
    throw Error("hook write at " + name + ": position " + std::to_string(w.position) + " of " +
                std::to_string(T));
  const std::int64_t nv = static_cast<std::int64_t>(w.values.size());
  if (nv != 0 && nv != N && nv != T * N && nv != B * T * N)
    throw Error("hook write at " + name + ": " + std::to_string(nv) +
                " values; expected a row of " + std::to_string(N) + ", a sequence of " +
                std::to_string(T * N) + " or the batch's " + std::to_string(B * T * N));
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t t = r % T;
    if (w.position >= 0 && t != w.position) continue;
    const std::int64_t src = nv == N ? 0 : nv == T * N ? t * N : r * N;
    for (std::int64_t c = w.col_begin; c < w.col_begin + count; ++c)
      v[static_cast<std::size_t>(r * N + c)] =
          nv == 0 ? 0.0f : w.values[static_cast<std::size_t>(src + c)];
  }
}

}  // namespace

Tensor Hooks::apply(const std::string& name, Tensor t) {
  if (name.empty()) return t;
  if (!writes_.empty() && !t.device().is_meta()) {
    std::vector<float> v;
    for (const Write& w : writes_) {
      if (!glob_match(w.pattern, name)) continue;
      if (v.empty()) v = t.to_floats();
      apply_write(w, name, t.shape(), v);
    }
    if (!v.empty()) {
      // A new tensor: t may be a view another module still reads (a residual sum).
      Tensor out = Tensor::empty(t.arena_ptr(), t.shape(), t.dtype(), Category::activation);
      out.copy_from_floats(v);
      t = std::move(out);
    }
  }
  if (wants_output(name)) record(name, t);
  return t;
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
