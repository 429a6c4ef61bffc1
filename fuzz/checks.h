// What the fuzz targets check on every input, shared with the replay of committed inputs in
// tests/test_robustness.cpp (the normal build runs them too). The contract of every loader: it
// returns something consistent, or throws cugpt::Error with one non-empty line. A broken
// invariant throws Violation; any other exception, a crash or a sanitizer report is a bug too.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "kernels/error.h"
#include "models/config.h"
#include "models/factory.h"
#include "text/bpe.h"
#include "text/tokenizer.h"
#include "text/unicode.h"

namespace cugpt::fuzz {

struct Violation : std::logic_error {
  using std::logic_error::logic_error;
};

inline void require(bool ok, const std::string& what) {
  if (!ok) throw Violation(what);
}

inline void check_message(const Error& e) {
  const std::string m = e.what();
  require(!m.empty(), "an empty error message");
  require(m.find('\n') == std::string::npos, "an error message of several lines: " + m);
}

// A gpt2 model of 300 parameters: checkpoints for it are small enough to fuzz whole.
constexpr const char* kMicroConfig =
    R"({"model_type": "gpt2", "vocab_size": 8, "n_positions": 4, "n_embd": 4, "n_layer": 1,
        "n_head": 1})";

// A file of this process for inputs the loaders take by path.
inline std::string write_temp(const void* data, std::size_t size, const char* suffix) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("cugpt-fuzz-" + std::to_string(::getpid()) + suffix))
                               .string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  require(static_cast<bool>(out), "cannot write " + path);
  return path;
}

// JSON text -> ModelConfig (from the string, or through a file when `via_file`), and a config
// that parses builds on the meta device or fails with a clear error.
inline void check_config(std::string_view text, bool via_file) {
  ModelConfig c;
  try {
    c = via_file ? load_config(write_temp(text.data(), text.size(), ".json"))
                 : parse_config(std::string(text), "fuzz.json", "fuzz");
  } catch (const Error& e) {
    check_message(e);
    return;
  }
  require(c.vocab_size >= 1 && c.max_positions >= 1 && c.n_embd >= 1 && c.n_layer >= 1 &&
              c.n_head >= 1 && c.ffn_dim >= 1,
          "a config with a size below 1");
  require(c.n_embd % c.n_head == 0, "n_embd not divisible by n_head");
  require(c.layer_norm_eps >= 0, "a negative layer_norm_eps");
  if (c.family == ModelFamily::roberta)
    require(c.pad_token_id >= 0 && c.pad_token_id < c.vocab_size &&
                c.max_positions > c.pad_token_id + 1 && c.type_vocab_size >= 1,
            "roberta padding or positions out of range");
  try {
    auto arena = Arena::create(Device::meta(), 1ull << 46);
    const auto model = build_model(c, arena, DType::bf16);
    require(model->parameter_count() > 0, "a model without parameters");
  } catch (const Error& e) {
    check_message(e);  // larger than 64 TiB: out of memory on the meta arena
  }
}

// The micro model on cpu (copies data) and on meta (validates only), built once.
struct MicroModels {
  std::shared_ptr<Arena> cpu = Arena::create(Device::cpu(), 1 << 20);
  std::shared_ptr<Arena> meta = Arena::create(Device::meta(), 1 << 20);
  std::unique_ptr<Model> on_cpu, on_meta;
  MicroModels() {
    const ModelConfig c = parse_config(kMicroConfig, "micro", "micro");
    on_cpu = build_model(c, cpu, DType::f32);
    on_meta = build_model(c, meta, DType::f32);
  }
};

inline const MicroModels& micro_models() {
  static const MicroModels m;
  return m;
}

// bytes -> header parse + tensor table validation, every tensor read, then loaded into the
// micro model with strict and with permissive options.
inline void check_safetensors_file(const std::string& path) {
  std::optional<SafetensorsFile> f;
  try {
    f.emplace(SafetensorsFile::open(path));
  } catch (const Error& e) {
    check_message(e);
    return;
  }
  const std::uint64_t size = std::filesystem::file_size(path);
  require(f->data_start() >= 9 && f->data_start() <= size, "the data buffer starts outside");
  std::uint64_t total = 0;
  std::vector<unsigned char> buf;
  for (const SafetensorsEntry& e : f->entries()) {
    require(e.begin <= e.end && e.end <= size - f->data_start(), "tensor outside the data");
    require(e.nbytes() == static_cast<std::uint64_t>(e.numel()) * dtype_size(e.dtype),
            "tensor '" + e.name + "' byte size disagrees with its shape");
    require(f->find(e.name) == &e, "find() does not return the entry");
    total += e.nbytes();
    buf.resize(e.nbytes());
    f->read(e, buf.data(), buf.size());
  }
  require(total <= size - f->data_start(), "tensors overlap");  // disjoint, so they fit

  const MicroModels& m = micro_models();
  for (Model* model : {m.on_cpu.get(), m.on_meta.get()}) {
    for (const bool permissive : {false, true}) {
      LoadOptions o;
      o.allow_missing = o.allow_extra = o.convert_dtype = permissive;
      try {
        const LoadReport r = load_checkpoint(*model, path, o);
        require(static_cast<std::size_t>(r.loaded) + r.missing.size() ==
                    model->named_parameters().size(),
                "loaded + missing is not the number of tensors");
      } catch (const Error& e) {
        check_message(e);
      }
    }
  }
}

// bytes -> .npy reader: the data agrees with the shape and converts.
inline void check_npy_file(const std::string& path) {
  NpyArray a;
  try {
    a = read_npy(path);
  } catch (const Error& e) {
    check_message(e);
    return;
  }
  require(a.element_size() > 0, "an unknown dtype was accepted");
  const std::uint64_t n = static_cast<std::uint64_t>(a.numel());
  require(a.data.size() == n * a.element_size(), "data size disagrees with the shape");
  require(a.as_floats().size() == n, "as_floats has the wrong size");
}

// GPT-2's byte alphabet for byte b, and a vocabulary of the 256 bytes, a few merges and the
// special tokens, written as vocab.json + merges.txt to `dir`.
inline std::string byte_char(unsigned char b) {
  std::string s;
  utf8_append(gpt2_byte_to_code_point(b), s);
  return s;
}

inline void write_micro_bpe(const std::filesystem::path& dir, bool roberta) {
  std::filesystem::create_directories(dir);
  nlohmann::json vocab = nlohmann::json::object();
  std::int32_t next = 0;
  if (roberta)
    for (const char* s : {"<s>", "<pad>", "</s>", "<unk>"}) vocab[s] = next++;
  for (int b = 0; b < 256; ++b) vocab[byte_char(static_cast<unsigned char>(b))] = next++;
  const std::string sp = byte_char(' '), nl = byte_char('\n');
  const std::vector<std::pair<std::string, std::string>> merges = {
      {sp, "t"},    {"h", "e"},   {sp + "t", "he"}, {"i", "n"},
      {"e", "r"},   {sp, "a"},    {"o", "n"},       {sp + "a", "n"},
      {"in", "g"},  {nl, nl},     {sp, sp},         {"\xC3\x83", "\xC2\xA9"},
      {"t", "h"},   {"th", "e"},  {"e", "n"},       {"l", "l"},
      {"he", "ll"}, {"hell", "o"}};
  std::string text = "#version: 0.2\n";
  for (const auto& [a, b] : merges) {
    if (!vocab.contains(a + b)) vocab[a + b] = next++;
    text += a + " " + b + "\n";
  }
  vocab["<|endoftext|>"] = next++;
  if (roberta) vocab["<mask>"] = next++;
  std::ofstream(dir / "vocab.json") << vocab.dump();
  std::ofstream(dir / "merges.txt") << text;
}

struct MicroTokenizers {
  ByteTokenizer byte;
  std::unique_ptr<Tokenizer> gpt2, roberta;
  MicroTokenizers() {
    const auto root =
        std::filesystem::temp_directory_path() / ("cugpt-fuzz-bpe-" + std::to_string(::getpid()));
    write_micro_bpe(root / "gpt2", false);
    write_micro_bpe(root / "roberta", true);
    gpt2 = load_tokenizer("gpt2:" + (root / "gpt2").string());
    roberta = load_tokenizer("roberta:" + (root / "roberta").string());
    std::filesystem::remove_all(root);
  }
};

inline const MicroTokenizers& micro_tokenizers() {
  static const MicroTokenizers t;
  return t;
}

inline void check_token_text(const Tokenizer& t, std::int32_t id) {
  try {
    const std::string s = t.token_text(id);
    require(!s.empty(), "an empty token_text");
    for (unsigned char c : s) require(c >= 0x20 && c != 0x7f, "a control character in token_text");
  } catch (const Error& e) {
    check_message(e);
    require(id < 0 || id >= t.vocab_size(), "token_text refused an id of the vocabulary");
  }
}

// The first byte picks a check: 0 byte round trip, 1 GPT-2 BPE round trip, 2 RoBERTa round
// trip (wrapped in <s> ... </s>), 3 decode of the rest as little-endian int32 ids.
inline void check_tokenizers(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  const MicroTokenizers& t = micro_tokenizers();
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const int mode = data[0] % 4;
  if (mode < 3) {
    const Tokenizer& tok = mode == 0   ? static_cast<const Tokenizer&>(t.byte)
                           : mode == 1 ? *t.gpt2
                                       : *t.roberta;
    const std::vector<std::int32_t> ids = tok.encode(text);
    for (std::int32_t id : ids) {
      require(id >= 0 && id < tok.vocab_size(), "encode gave an id outside the vocabulary");
      check_token_text(tok, id);
    }
    const std::string expected = mode == 2 ? "<s>" + std::string(text) + "</s>" : std::string(text);
    require(tok.decode(ids) == expected, tok.name() + ": decode(encode(text)) != text");
    if (mode == 0) require(ids.size() == text.size(), "byte tokenizer: not one id per byte");
    return;
  }
  std::vector<std::int32_t> ids;
  for (std::size_t i = 0; i + 4 <= text.size(); i += 4) {
    std::uint32_t v = 0;
    for (int k = 3; k >= 0; --k) v = (v << 8) | static_cast<unsigned char>(text[i + k]);
    ids.push_back(static_cast<std::int32_t>(v));
  }
  const Tokenizer* all[] = {&t.byte, t.gpt2.get(), t.roberta.get()};
  for (const Tokenizer* tok : all) {
    bool all_known = true;
    for (std::int32_t id : ids) {
      all_known = all_known && id >= 0 && id < tok->vocab_size();
      check_token_text(*tok, id);
    }
    try {
      tok->decode(ids);
    } catch (const Error& e) {
      check_message(e);
      require(!all_known, tok->name() + ": decode refused ids of the vocabulary");
    }
  }
}

}  // namespace cugpt::fuzz
