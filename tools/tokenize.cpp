// `cugpt tokenize [--tokenizer SPEC] (--text TEXT | --file PATH | --decode IDS) [--json]
// [--out FILE.bin [--format llmc|raw]] [--max-bytes SIZE]`: what a text encodes to (ids, and each
// token as the vocabulary writes it), or the text that ids decode to, with any tokenizer the
// other commands take. Needs no model. The text is read and encoded as a stream
// (text/stream_encoder.h): with --out the ids go to a token file as they are produced, so a
// corpus of any size takes the tokenizer's tables plus a fixed window of memory; without it
// they are printed, and held until then, so the input is capped by --max-bytes.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/input_file.h"
#include "io/printable.h"
#include "kernels/error.h"
#include "nn/bytes.h"
#include "text/stream_encoder.h"
#include "text/tokenizer.h"
#include "tools/commands.h"
#include "tools/options.h"
#include "tools/tokenizer_choice.h"
#include "train/token_writer.h"

namespace cugpt::tools {

namespace {

struct TokenizeCli {
  std::string tokenizer = "byte", text, file, decode, out, format = "llmc", max_bytes = "64MiB";
  bool text_given = false, file_given = false, decode_given = false, json = false;
};

// What is read at once from --file.
constexpr std::size_t kReadBytes = 1 << 20;

// JSON text of any bytes on one line: escapes, and U+FFFD for bytes that are not UTF-8.
std::string json_line(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// "15496,995", "15496 995" or "" (no ids: decodes to no text). An entry left empty between
// commas ("1,,2", "1,2,") is refused, as --tokens refuses it, rather than skipped.
std::vector<std::int32_t> parse_ids(const std::string& text) {
  std::vector<std::int32_t> ids;
  std::string token;
  bool entry = false;  // an id since the last comma (or the start)
  const auto empty_entry = [&] {
    throw Error("--decode: empty entry in '" + printable(text) + "'");
  };
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
      throw Error("--decode: '" + printable(token) + "' is not a token id");
    ids.push_back(static_cast<std::int32_t>(v));
    token.clear();
    entry = true;
  };
  bool comma = false;
  for (char c : text) {
    if (c == ',') {
      flush();
      if (!entry) empty_entry();
      entry = false;
      comma = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      flush();
    } else {
      token += c;
    }
  }
  flush();
  if (comma && !entry) empty_entry();
  return ids;
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
  const std::uint64_t cap = opt::parse_size("--max-bytes", o.max_bytes);
  // The output is checked (extension, width, the path itself) before a byte is read.
  std::unique_ptr<TokenFileWriter> writer;
  if (!o.out.empty())
    writer = std::make_unique<TokenFileWriter>(o.out, parse_token_file_format(o.format),
                                               tok->vocab_size());
  std::vector<std::int32_t> ids;  // printed at the end: held (without --out only)
  std::unique_ptr<InputStream> in;
  if (o.file_given) in = std::make_unique<InputStream>("tokenize: --file", o.file);
  const std::string source = in ? "--file " + in->name() : "--text";
  // Without --out everything is held, so the cap is on the whole input; with --out only the
  // text since the last place it could be cut is held, so the cap is on that.
  const auto too_large = [&](const std::string& size) {
    return Error("tokenize: " + source + ": " + (size.empty() ? "" : size + " is ") +
                 "more than the " + format_bytes(cap) +
                 " --max-bytes limit for ids that are printed (raise --max-bytes, or write "
                 "them with --out FILE.bin, which streams)");
  };
  StreamEncoder encoder(
      *tok, cap, "tokenize: " + source,
      [&](const std::vector<std::int32_t>& part) {
        if (writer)
          writer->write(part);
        else
          ids.insert(ids.end(), part.begin(), part.end());
      },
      StreamEncoder::kMinPart, "raise --max-bytes");
  if (in) {
    if (!writer && in->size() > 0 && static_cast<std::uint64_t>(in->size()) > cap)
      throw too_large(format_bytes(static_cast<std::uint64_t>(in->size())));
    std::vector<char> buf(kReadBytes);
    while (const std::size_t n = in->read(buf.data(), buf.size())) {
      if (!writer && encoder.bytes() + n > cap) throw too_large("");
      encoder.feed(std::string_view(buf.data(), n));
    }
  } else {
    if (!writer && o.text.size() > cap) throw too_large(format_bytes(o.text.size()));
    encoder.feed(o.text);
  }
  encoder.finish();  // empty text is an input too: no ids (RoBERTa: its <s> </s>)
  if (writer) {
    writer->commit();
    std::fprintf(stderr, "%s: wrote %llu tokens (uint%d, %s) from %llu bytes to %s\n",
                 tok->name().c_str(), static_cast<unsigned long long>(writer->count()),
                 8 * writer->width(), o.format == "llmc" ? "llm.c header" : "no header",
                 static_cast<unsigned long long>(encoder.bytes()), printable(o.out).c_str());
    return 0;
  }
  if (o.json) {
    std::vector<std::string> labels;
    for (std::int32_t id : ids) labels.push_back(tok->token_text(id));
    const nlohmann::json j = {{"tokenizer", tok->name()},
                              {"vocab_size", tok->vocab_size()},
                              {"bytes", encoder.bytes()},
                              {"count", ids.size()},
                              {"ids", ids},
                              {"tokens", labels}};
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  // Written as they are formatted: no second copy of the ids as text, nor of the labels.
  for (std::size_t i = 0; i < ids.size(); ++i)
    std::printf(i ? ",%d" : "%d", static_cast<int>(ids[i]));
  std::printf("\ntokens: [");
  for (std::size_t i = 0; i < ids.size(); ++i)
    std::printf(i ? ",%s" : "%s", json_line(tok->token_text(ids[i])).c_str());
  std::printf("]\n");
  std::fprintf(stderr, "%s: %zu tokens from %llu bytes\n", tok->name().c_str(), ids.size(),
               static_cast<unsigned long long>(encoder.bytes()));
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
  // Checked as the option is read, like the numeric options: a bad list is an option error.
  const CLI::Validator ids_check(
      [](std::string& v) -> std::string {
        try {
          parse_ids(v);
        } catch (const Error& e) {
          const std::string m = e.what(), prefix = "--decode: ";
          return m.rfind(prefix, 0) == 0 ? m.substr(prefix.size()) : m;  // CLI11 adds the name
        }
        return {};
      },
      "IDS");
  auto* decode =
      sub->add_option("--decode", o->decode, "Token ids to decode: \"15496,995\" (\"\" is no ids)")
          ->check(ids_check);
  sub->add_flag("--json", o->json, "Machine-readable output");
  auto* out = sub->add_option(
      "--out", o->out,
      "Write the ids to this file as train --data reads them (.bin: uint16, .u32.bin: uint32), "
      "as they are produced, instead of printing them");
  sub->add_option("--format", o->format,
                  "With --out: llmc (llm.c's 1024-byte header, then the ids) or raw (nanoGPT's "
                  "ids alone)")
      ->check(CLI::IsMember({"llmc", "raw"}))
      ->capture_default_str()
      ->needs(out);
  sub->add_option("--max-bytes", o->max_bytes,
                  "The most text held: the whole input when the ids are printed, the longest "
                  "stretch without a place to cut it with --out")
      ->check(opt::size())
      ->capture_default_str();
  out->excludes("--json")->excludes(decode);
  on_run(sub, [o, text, file, decode] {
    o->text_given = text->count() > 0;
    o->file_given = file->count() > 0;
    o->decode_given = decode->count() > 0;
    return run_tokenize(*o);
  });
}

}  // namespace cugpt::tools
