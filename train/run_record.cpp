#include "train/run_record.h"

#include <cstdio>

#include "io/atomic_file.h"
#include "io/input_file.h"
#include "io/printable.h"
#include "kernels/error.h"
#include "nn/training_state.h"

namespace cugpt {

namespace {

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Exact: a double survives the round trip through %.17g, so equal options compare equal.
std::string exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// For messages: "0.0003", not "0.00029999999999999997".
std::string shown(const std::string& exact_text) {
  char* end = nullptr;
  const double v = std::strtod(exact_text.c_str(), &end);
  if (end == exact_text.c_str() || *end != '\0') return printable(exact_text, 80);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::uint64_t tokenizer_hash(const TokenizerFiles& f) {
  std::uint64_t h = kFnv1aOffset;
  for (const std::string* s : {&f.kind, &f.vocab, &f.merges}) {
    const std::uint64_t n = s->size();
    h = fnv1a64(&n, sizeof n, h);  // lengths too: ("ab", "c") and ("a", "bc") differ
    h = fnv1a64(s->data(), s->size(), h);
  }
  return h;
}

struct Argument {
  const char* name;    // --allow-change name
  const char* option;  // the command-line option
  const char* key;     // metadata key
};

// In the order a message lists them. "data" compares the data's bytes, not its path (a moved
// file is the same data); "config" and "tokenizer" compare the files' contents.
const std::vector<Argument>& arguments() {
  static const std::vector<Argument> a = {
      {"config", "config", "config_json"},
      {"data", "--data", "train.data_fnv1a64"},
      {"tokenizer", "--tokenizer", "tokenizer_fnv1a64"},
      {"dtype", "--dtype", "dtype"},
      {"batch", "--batch", "train.batch"},
      {"seq", "--seq", "train.seq"},
      {"accum", "--accum", "train.accum"},
      {"lr", "--lr", "train.lr"},
      {"warmup", "--warmup", "train.warmup"},
      {"min_lr_fraction", "(min_lr_fraction)", "train.min_lr_fraction"},
      {"steps", "--steps", "train.steps"},
      {"weight_decay", "--weight-decay", "train.weight_decay"},
      {"clip", "--clip", "train.clip"},
      {"optimizer", "--optimizer", "train.optimizer"},
      {"seed", "--seed", "train.seed"},
  };
  return a;
}

}  // namespace

Metadata tokenizer_record(const Tokenizer& tok, bool embed_files) {
  const TokenizerFiles f = tok.files();
  Metadata m = {{"tokenizer", f.kind},
                {"tokenizer_source", f.source},
                {"tokenizer_fnv1a64", hex64(tokenizer_hash(f))}};
  if (embed_files && f.kind != "byte") {
    m["tokenizer_vocab"] = f.vocab;
    m["tokenizer_merges"] = f.merges;
  }
  return m;
}

std::unique_ptr<Tokenizer> recorded_tokenizer(const Metadata& meta, const std::string& where) {
  const auto get = [&](const char* key) -> const std::string* {
    const auto it = meta.find(key);
    return it == meta.end() ? nullptr : &it->second;
  };
  const std::string* kind = get("tokenizer");
  if (!kind) return nullptr;
  TokenizerFiles f;
  f.kind = *kind;
  f.source = where;
  if (f.kind != "byte") {
    const std::string* vocab = get("tokenizer_vocab");
    const std::string* merges = get("tokenizer_merges");
    if (!vocab || !merges) return nullptr;  // a hash only: nothing to rebuild it from
    f.vocab = *vocab;
    f.merges = *merges;
  }
  auto tok = tokenizer_from_files(f);
  const std::string* hash = get("tokenizer_fnv1a64");
  if (hash && *hash != hex64(tokenizer_hash(tok->files())))
    throw Error(where + ": the embedded tokenizer does not match its recorded hash (corrupt)");
  return tok;
}

Metadata run_metadata(const RunRecord& r, bool embed_files) {
  Metadata m;
  if (r.tokenizer) m = tokenizer_record(*r.tokenizer, embed_files);
  if (r.config) {
    m["config"] = r.config->name;
    // The file's text: the record holds the config itself, not just its name.
    if (!r.config->origin.empty())
      m["config_json"] = read_regular_file("config", r.config->origin, 1 << 20);
  }
  m["dtype"] = dtype_name(r.dtype);
  if (const TrainOptions* o = r.options) {
    m["train.data"] = r.data;
    m["train.data_fnv1a64"] = hex64(r.data_fnv1a64);
    m["train.batch"] = std::to_string(o->batch);
    m["train.seq"] = std::to_string(o->seq);
    m["train.accum"] = std::to_string(o->accum);
    m["train.lr"] = exact(o->optim.lr);
    m["train.warmup"] = std::to_string(o->warmup);
    m["train.min_lr_fraction"] = exact(o->min_lr_fraction);
    m["train.steps"] = std::to_string(o->steps);
    m["train.weight_decay"] = exact(o->optim.weight_decay);
    m["train.clip"] = exact(o->optim.clip);
    m["train.optimizer"] = optimizer_name(o->optim.kind);
    m["train.seed"] = std::to_string(o->seed);
    if (!r.init_from.empty()) m["train.init_from"] = r.init_from;
  }
  return m;
}

bool records_run(const Metadata& recorded) {
  return recorded.count("train.steps") > 0;
}

std::vector<RunDifference> run_differences(const Metadata& recorded, const Metadata& requested) {
  std::vector<RunDifference> out;
  for (const Argument& a : arguments()) {
    const auto was = recorded.find(a.key);
    const auto now = requested.find(a.key);
    if (was == recorded.end() || now == requested.end() || was->second == now->second) continue;
    RunDifference d{a.name, a.option, shown(was->second), shown(now->second)};
    // Contents differ: say which files, by the names the user gave.
    if (std::string(a.name) == "data") {
      const auto path = recorded.find("train.data");
      d.recorded = "the data of " + printable(path != recorded.end() ? path->second : "?", 120);
      d.requested = "other data";
    } else if (std::string(a.name) == "tokenizer") {
      const auto src = recorded.find("tokenizer_source");
      d.recorded = "the tokenizer of " + printable(src != recorded.end() ? src->second : "?", 120);
      d.requested = printable(requested.count("tokenizer_source") ? requested.at("tokenizer_source")
                                                                  : std::string("another"),
                              120);
    } else if (std::string(a.name) == "config") {
      d.recorded = "config " + printable(recorded.count("config") ? recorded.at("config") : "?");
      d.requested = "config " +
                    printable(requested.count("config") ? requested.at("config") : "?") +
                    " (another file's text)";
    }
    out.push_back(d);
  }
  return out;
}

const std::vector<std::string>& changeable_arguments() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const Argument& a : arguments()) n.push_back(a.name);
    return n;
  }();
  return names;
}

std::set<std::string> parse_allowed_changes(const std::string& list) {
  std::set<std::string> out;
  std::string all;
  for (const std::string& n : changeable_arguments()) all += (all.empty() ? "" : ", ") + n;
  if (list.empty()) return out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = list.find(',', start);
    const std::string name =
        list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (name == "all") {
      out.insert(changeable_arguments().begin(), changeable_arguments().end());
    } else {
      bool known = false;
      for (const std::string& n : changeable_arguments()) known = known || n == name;
      if (!known)
        throw Error("--allow-change: '" + printable(name, 40) +
                    "' is not an argument (one of: " + all + ", or all)");
      out.insert(name);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace cugpt
