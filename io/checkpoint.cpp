#include "io/checkpoint.h"

#include <cmath>
#include <cstring>
#include <set>
#include <unordered_map>

#include "io/printable.h"
#include "io/safetensors.h"
#include "kernels/error.h"

namespace cugpt {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string shape_str(const std::vector<std::int64_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// "a, b, c and 4 more": enough names to act on, one line however many there are.
std::string first_names(const std::vector<std::string>& names) {
  constexpr std::size_t kShown = 5;
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < kShown; ++i)
    s += (i ? ", " : "") + printable(names[i]);
  if (names.size() > kShown) s += " and " + std::to_string(names.size() - kShown) + " more";
  return s;
}

// How many of the `n` values of dtype `t` at `p` are NaN or +-Inf. The half types are checked
// on their bits (all-ones exponent), without a conversion per element.
std::int64_t count_nonfinite(DType t, const unsigned char* p, std::size_t n) {
  std::int64_t bad = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (t == DType::f32) {
      float v;
      std::memcpy(&v, p + 4 * i, 4);
      bad += !std::isfinite(v);
    } else if (t == DType::f64) {
      double v;
      std::memcpy(&v, p + 8 * i, 8);
      bad += !std::isfinite(v);
    } else if (t == DType::f16 || t == DType::bf16) {
      std::uint16_t v;
      std::memcpy(&v, p + 2 * i, 2);
      const std::uint16_t exponent = t == DType::f16 ? 0x7c00 : 0x7f80;
      bad += (v & exponent) == exponent;
    }
  }
  return bad;
}

// The dtypes a load may convert between (through double): the floating ones.
bool is_floating(DType t) {
  return t == DType::f32 || t == DType::f64 || t == DType::bf16 || t == DType::f16;
}

// One file tensor matched to one model tensor.
struct Match {
  const SafetensorsEntry* entry;
  std::size_t target;  // index into the registry
};

}  // namespace

LoadReport load_checkpoint(Module& m, const std::string& path, const LoadOptions& options) {
  auto fail = [&](const std::string& what) { throw Error("checkpoint '" + path + "': " + what); };
  const auto registry = m.named_parameters_with_ties();
  std::unordered_map<std::string, std::size_t> by_name;
  for (std::size_t i = 0; i < registry.size(); ++i) by_name[registry[i].first.name] = i;
  // Aliases of one tensor share its first name: the key under which "is it covered" is tracked.
  auto primary_of = [&](std::size_t i) {
    return registry[i].second.empty() ? registry[i].first.name : registry[i].second;
  };

  const SafetensorsFile file = SafetensorsFile::open(path);
  LoadReport report;

  std::vector<Match> resolved;
  std::unordered_map<std::size_t, std::string> claimed_by;  // target -> file key
  for (const auto& e : file.entries()) {
    bool skip = false;
    for (const auto& suffix : options.ignored_suffixes) skip = skip || ends_with(e.name, suffix);
    if (skip) {
      report.ignored.push_back(e.name);
      continue;
    }
    auto it = by_name.find(e.name);
    for (std::size_t p = 0; it == by_name.end() && p < options.optional_prefixes.size(); ++p)
      it = by_name.find(options.optional_prefixes[p] + e.name);
    if (it == by_name.end()) {
      report.extra.push_back(e.name);
      continue;
    }
    // "h.0.x" and "transformer.h.0.x" in one file would both fill one tensor: ambiguous.
    const auto [prev, fresh] = claimed_by.emplace(it->second, e.name);
    if (!fresh)
      fail("keys '" + printable(prev->second) + "' and '" + printable(e.name) +
           "' both map to model tensor '" + it->first + "'");
    resolved.push_back({&e, it->second});
  }

  // A tied alias loads only when the file lacks the tensor's first name (GPT-2 files have wte
  // but no lm_head); when both are present the first name wins and the alias is skipped.
  std::set<std::string> primaries_in_file;
  for (const auto& r : resolved)
    if (registry[r.target].second.empty()) primaries_in_file.insert(registry[r.target].first.name);
  std::vector<Match> plan;
  std::set<std::string> covered;
  for (const auto& r : resolved) {
    const std::string primary = primary_of(r.target);
    const bool alias = !registry[r.target].second.empty();
    if (alias && (primaries_in_file.count(primary) || covered.count(primary))) {
      report.ignored.push_back(r.entry->name);
      continue;
    }
    covered.insert(primary);
    plan.push_back(r);
  }
  for (const auto& p : m.named_parameters())
    if (!covered.count(p.name)) report.missing.push_back(p.name);

  std::string name_problems;
  if (!report.missing.empty() && !options.allow_missing)
    name_problems += std::to_string(report.missing.size()) +
                     " model tensor(s) missing from the file: " + first_names(report.missing);
  if (!report.extra.empty() && !options.allow_extra)
    name_problems += (name_problems.empty() ? "" : "; ") + std::to_string(report.extra.size()) +
                     " file tensor(s) not in the model: " + first_names(report.extra);
  if (!name_problems.empty()) fail(name_problems);

  // Validate everything before the first copy, so a mismatch leaves the model untouched.
  for (const auto& r : plan) {
    const Tensor& t = registry[r.target].first.tensor;
    const std::string& model_name = registry[r.target].first.name;
    std::string what = "tensor '" + printable(r.entry->name) + "'";
    if (model_name != r.entry->name) what += " (model '" + model_name + "')";
    if (r.entry->shape != t.shape().vec())
      fail(what + " has shape " + shape_str(r.entry->shape) + ", model expects " + t.shape().str());
    const bool convertible = is_floating(r.entry->dtype) && is_floating(t.dtype());
    if (r.entry->dtype != t.dtype() && (!options.convert_dtype || !convertible))
      fail(what + " has dtype " + safetensors_dtype_name(r.entry->dtype) + ", model expects " +
           safetensors_dtype_name(t.dtype()) +
           (r.entry->dtype == DType::i32
                ? std::string(" (integer data is no model weight)")
                : std::string(" (build the model in ") + safetensors_dtype_name(r.entry->dtype) +
                      ", e.g. with --dtype, or load with LoadOptions::convert_dtype)"));
  }

  std::vector<unsigned char> raw, converted;
  for (const auto& r : plan) {
    Tensor t = registry[r.target].first.tensor;  // shares the module's storage
    ++report.loaded;
    if (r.entry->dtype != t.dtype())
      ++report.converted[std::string(safetensors_dtype_name(r.entry->dtype)) + " to " +
                         safetensors_dtype_name(t.dtype())];
    if (t.device().is_meta()) continue;  // shapes and dtypes only: there is nowhere to copy to
    raw.resize(r.entry->nbytes());
    file.read(*r.entry, raw.data(), raw.size());
    const std::int64_t bad =
        count_nonfinite(r.entry->dtype, raw.data(), static_cast<std::size_t>(r.entry->numel()));
    if (bad > 0) report.nonfinite.emplace_back(r.entry->name, bad);
    if (r.entry->dtype == t.dtype()) {
      t.copy_from_host(raw.data(), raw.size());
      continue;
    }
    const std::size_t n = static_cast<std::size_t>(t.numel());
    const std::size_t src_size = dtype_size(r.entry->dtype), dst_size = dtype_size(t.dtype());
    converted.resize(n * dst_size);
    for (std::size_t i = 0; i < n; ++i)
      store_scalar(t.dtype(), &converted[i * dst_size],
                   load_scalar(r.entry->dtype, &raw[i * src_size]));
    t.copy_from_host(converted.data(), converted.size());
  }
  return report;
}

FileDigest save_checkpoint(const Module& m, const std::string& path,
                           const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, Tensor>> entries;
  for (auto& p : m.named_parameters()) entries.emplace_back(p.name, p.tensor);
  std::map<std::string, std::string> meta = metadata;
  meta.emplace("format", "pt");
  return save_safetensors(path, entries, meta);
}

}  // namespace cugpt
