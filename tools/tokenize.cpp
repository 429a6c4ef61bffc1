// `cugpt tokenize [--tokenizer SPEC] (--text TEXT | --file PATH | --decode IDS) [--json]`: what
// a text encodes to (ids, and each token as the vocabulary writes it), or the text that ids
// decode to, with any tokenizer the other commands take. Needs no model.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/error.h"
#include "text/tokenizer.h"
#include "tools/commands.h"
#include "tools/tokenizer_choice.h"

namespace cugpt::tools {

namespace {

struct TokenizeCli {
  std::string tokenizer = "byte", text, file, decode;
  bool text_given = false, file_given = false, decode_given = false, json = false;
};

// JSON text of any bytes on one line: escapes, and U+FFFD for bytes that are not UTF-8.
std::string json_line(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// "15496,995", "15496 995" or "" (no ids: decodes to no text).
std::vector<std::int32_t> parse_ids(const std::string& text) {
  std::vector<std::int32_t> ids;
  std::string token;
  const auto flush = [&] {
    if (token.empty()) return;
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(token, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != token.size() || v < INT32_MIN || v > INT32_MAX)
      throw Error("--decode: '" + token + "' is not a token id");
    ids.push_back(static_cast<std::int32_t>(v));
    token.clear();
  };
  for (char c : text) {
    if (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')
      flush();
    else
      token += c;
  }
  flush();
  return ids;
}

std::string read_input(const std::string& path) {
  if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), {});
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("--file: cannot read '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int run_tokenize(const TokenizeCli& o) {
  const int inputs = o.text_given + o.file_given + o.decode_given;
  if (inputs == 0)
    throw Error("tokenize: give --text \"...\", --file PATH (- for stdin) or --decode IDS");
  if (inputs > 1) throw Error("tokenize: --text, --file and --decode are mutually exclusive");
  const auto tok = choose_tokenizer(o.tokenizer, true);
  if (o.decode_given) {
    const std::vector<std::int32_t> ids = parse_ids(o.decode);
    const std::string text = tok->decode(ids);
    if (o.json) {
      std::printf(
          "%s\n",
          nlohmann::json{{"tokenizer", tok->name()}, {"ids", ids}, {"text", json_line(text)}}
              .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              .c_str());
    } else {
      std::fwrite(text.data(), 1, text.size(), stdout);  // the bytes themselves
      std::printf("\n");
    }
    return 0;
  }
  // Empty text is an input: no ids (RoBERTa: its <s> </s>).
  const std::string text = o.file_given ? read_input(o.file) : o.text;
  const std::vector<std::int32_t> ids = tok->encode(text);
  std::vector<std::string> labels;
  for (std::int32_t id : ids) labels.push_back(tok->token_text(id));
  if (o.json) {
    const nlohmann::json j = {{"tokenizer", tok->name()},
                              {"vocab_size", tok->vocab_size()},
                              {"bytes", text.size()},
                              {"count", ids.size()},
                              {"ids", ids},
                              {"tokens", labels}};
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  std::string line;
  for (std::int32_t id : ids) line += (line.empty() ? "" : ",") + std::to_string(id);
  std::printf("%s\n", line.c_str());
  std::printf("tokens: %s\n", json_line(labels).c_str());
  std::fprintf(stderr, "%s: %zu tokens from %zu bytes\n", tok->name().c_str(), ids.size(),
               text.size());
  return 0;
}

}  // namespace

void add_tokenize(CLI::App& app) {
  auto o = std::make_shared<TokenizeCli>();
  auto* sub = app.add_subcommand("tokenize", "Text to token ids and back, with any tokenizer");
  sub->add_option("--tokenizer", o->tokenizer,
                  "byte, a folder with vocab.json + merges.txt or encoder.json + vocab.bpe "
                  "(gpt2: or roberta: before it picks the kind), or a checkpoint carrying one "
                  "(a .safetensors file or a train --out directory)")
      ->capture_default_str();
  auto* text = sub->add_option("--text", o->text, "Text to encode (\"\" is no text)");
  auto* file = sub->add_option("--file", o->file, "Encode this file's bytes (- for stdin)");
  auto* decode =
      sub->add_option("--decode", o->decode, "Token ids to decode: \"15496,995\" (\"\" is no ids)");
  sub->add_flag("--json", o->json, "Machine-readable output");
  on_run(sub, [o, text, file, decode] {
    o->text_given = text->count() > 0;
    o->file_given = file->count() > 0;
    o->decode_given = decode->count() > 0;
    return run_tokenize(*o);
  });
}

}  // namespace cugpt::tools
