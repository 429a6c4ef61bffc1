#include "models/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/input_file.h"
#include "io/printable.h"
#include "kernels/error.h"

namespace cugpt {

namespace fs = std::filesystem;
using nlohmann::json;

const char* family_name(ModelFamily f) {
  switch (f) {
    case ModelFamily::gpt_day18:
      return "gpt-day18";
    case ModelFamily::gpt2:
      return "gpt2";
    case ModelFamily::roberta:
      return "roberta";
  }
  return "?";
}

namespace {

class Reader {
 public:
  Reader(const json& j, const std::string& origin) : j_(j), origin_(origin) {}

  [[noreturn]] void fail(const std::string& msg) const {
    throw Error("config '" + origin_ + "': " + msg);
  }

  std::int64_t integer(const char* key, std::int64_t lo, std::int64_t hi) const {
    if (!j_.contains(key)) fail(std::string("missing field '") + key + "'");
    const json& v = j_.at(key);
    if (!v.is_number_integer()) fail(std::string("field '") + key + "' must be an integer");
    // An unsigned value above INT64_MAX would wrap to a negative number in get<int64_t>(), and
    // the message would then quote a value the file does not hold.
    const bool huge =
        v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(hi);
    const std::int64_t x = huge ? hi : v.get<std::int64_t>();
    if (huge || x < lo || x > hi)
      fail(std::string("field '") + key + "' = " + v.dump() + " is out of range [" +
           std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return x;
  }

  double number(const char* key, double fallback, double lo, double hi) const {
    if (!j_.contains(key)) return fallback;
    const json& v = j_.at(key);
    if (!v.is_number()) fail(std::string("field '") + key + "' must be a number");
    const double x = v.get<double>();
    if (!(x >= lo && x <= hi)) {
      std::ostringstream os;
      os << "field '" << key << "' = " << x << " is out of range [" << lo << ", " << hi << "]";
      fail(os.str());
    }
    return x;
  }

  std::string text(const char* key, const std::string& fallback) const {
    if (!j_.contains(key)) return fallback;
    const json& v = j_.at(key);
    if (!v.is_string()) fail(std::string("field '") + key + "' must be a string");
    return v.get<std::string>();
  }

  kernels::Activation activation(const char* key, const std::string& fallback) const {
    const std::string a = text(key, fallback);
    if (a == "relu") return kernels::Activation::relu;
    if (a == "gelu_new" || a == "gelu_pytorch_tanh" || a == "gelu_tanh")
      return kernels::Activation::gelu_tanh;
    if (a == "gelu") return kernels::Activation::gelu_erf;
    fail(std::string("field '") + key + "' = '" + printable(a) +
         "' is not a supported activation (relu, gelu, gelu_new, gelu_pytorch_tanh)");
  }

 private:
  const json& j_;
  std::string origin_;
};

// Upper bounds that catch typos and absurd sizes before anything is allocated.
constexpr std::int64_t kMaxVocab = 1 << 24;
constexpr std::int64_t kMaxPositions = 1 << 20;
constexpr std::int64_t kMaxWidth = 1 << 16;
constexpr std::int64_t kMaxLayers = 1024;

}  // namespace

ModelConfig parse_config(const std::string& json_text, const std::string& origin,
                         const std::string& name) {
  // nlohmann stops at a NUL as at the end of the text: "{...}\0junk" would pass.
  const std::size_t nul = json_text.find('\0');
  if (nul != std::string::npos)
    throw Error("config '" + origin + "': a NUL byte at offset " + std::to_string(nul) +
                " (a config is JSON text)");
  // nlohmann keeps the last of two equal keys silently; {"n_head": 4, "n_head": 8} is a typo
  // to report, not a choice to make for the user. Only the top-level object's keys matter.
  int depth = 0;
  std::set<std::string> keys;
  std::string duplicate;
  const auto callback = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) ++depth;
    if (event == json::parse_event_t::object_end) --depth;
    if (event == json::parse_event_t::key && depth == 1 && duplicate.empty() &&
        !keys.insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  json j;
  try {
    j = json::parse(json_text, callback);
  } catch (const json::exception& e) {
    std::string what = e.what();
    throw Error("config '" + origin + "': invalid JSON (" + what.substr(what.find(' ') + 1) + ")");
  }
  Reader r(j, origin);
  if (!j.is_object()) r.fail("expected a JSON object");
  if (!duplicate.empty()) r.fail("field '" + printable(duplicate) + "' appears twice");
  ModelConfig c;
  c.name = name;
  c.origin = origin;
  const std::string type = r.text("model_type", "");
  if (type.empty()) r.fail("missing field 'model_type' (gpt-day18, gpt2 or roberta)");
  if (type == "gpt-day18") {
    c.family = ModelFamily::gpt_day18;
    c.vocab_size = r.integer("vocab_size", 1, kMaxVocab);
    c.max_positions = r.integer("block_size", 1, kMaxPositions);
    c.n_embd = r.integer("n_embd", 1, kMaxWidth);
    c.n_layer = r.integer("n_layer", 1, kMaxLayers);
    c.n_head = r.integer("n_head", 1, kMaxWidth);
    c.layer_norm_eps = r.number("layer_norm_epsilon", 1e-5, 0.0, 1.0);
    c.activation = r.activation("activation_function", "relu");
    c.ffn_dim = 4 * c.n_embd;
  } else if (type == "gpt2") {
    c.family = ModelFamily::gpt2;
    c.vocab_size = r.integer("vocab_size", 1, kMaxVocab);
    c.max_positions = r.integer("n_positions", 1, kMaxPositions);
    c.n_embd = r.integer("n_embd", 1, kMaxWidth);
    c.n_layer = r.integer("n_layer", 1, kMaxLayers);
    c.n_head = r.integer("n_head", 1, kMaxWidth);
    c.layer_norm_eps = r.number("layer_norm_epsilon", 1e-5, 0.0, 1.0);
    c.activation = r.activation("activation_function", "gelu_new");
    c.ffn_dim = j.contains("n_inner") && !j.at("n_inner").is_null()
                    ? r.integer("n_inner", 1, 4 * kMaxWidth)
                    : 4 * c.n_embd;
  } else if (type == "roberta") {
    c.family = ModelFamily::roberta;
    c.vocab_size = r.integer("vocab_size", 1, kMaxVocab);
    c.max_positions = r.integer("max_position_embeddings", 1, kMaxPositions);
    c.type_vocab_size = r.integer("type_vocab_size", 1, 1024);
    c.n_embd = r.integer("hidden_size", 1, kMaxWidth);
    c.n_layer = r.integer("num_hidden_layers", 1, kMaxLayers);
    c.n_head = r.integer("num_attention_heads", 1, kMaxWidth);
    c.ffn_dim = r.integer("intermediate_size", 1, 4 * kMaxWidth);
    c.layer_norm_eps = r.number("layer_norm_eps", 1e-12, 0.0, 1.0);
    c.pad_token_id = r.integer("pad_token_id", 0, c.vocab_size - 1);
    c.activation = r.activation("hidden_act", "gelu");
    // Positions start at pad_token_id + 1, so the table must be longer than that.
    if (c.max_positions <= c.pad_token_id + 1)
      r.fail("field 'max_position_embeddings' = " + std::to_string(c.max_positions) +
             " leaves no positions after pad_token_id + 1");
  } else {
    r.fail("unknown model_type '" + printable(type) + "' (expected gpt-day18, gpt2 or roberta)");
  }
  if (c.n_embd % c.n_head != 0)
    r.fail("n_embd " + std::to_string(c.n_embd) + " is not divisible by n_head " +
           std::to_string(c.n_head) + " (field '" +
           (c.family == ModelFamily::roberta ? "num_attention_heads" : "n_head") + "')");
  return c;
}

std::vector<std::string> bundled_configs() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(CUGPT_CONFIG_DIR, ec))
    if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

ModelConfig load_config(const std::string& path_or_name) {
  fs::path path(path_or_name);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    const fs::path bundled = fs::path(CUGPT_CONFIG_DIR) / (path_or_name + ".json");
    if (path_or_name.find('/') != std::string::npos || !fs::is_regular_file(bundled, ec)) {
      std::string names;
      for (const auto& n : bundled_configs()) names += (names.empty() ? "" : ", ") + n;
      throw Error("config '" + path_or_name + "' is neither a file nor a bundled name (" + names +
                  ")");
    }
    path = bundled;
  }
  // A regular file of a config's size (fs::is_regular_file above follows links; this also
  // refuses a FIFO swapped in since, without blocking).
  const std::string text = read_regular_file("config", path.string(), 1 << 20);
  return parse_config(text, path.string(), path.stem().string());
}

}  // namespace cugpt
