#include "tools/analysis_input.h"

#include <cstdio>

#include "models/weights.h"
#include "tools/batch.h"
#include "tools/load_warnings.h"
#include "tools/tokenizer_choice.h"

namespace cugpt::tools {

void AnalysisInput::add_options(CLI::App* sub, const std::string& out_help,
                                const std::string& marker) {
  out_marker = marker;
  sub->add_option("config", config, "Config path or bundled name")->required();
  sub->add_option("--weights", weights, "safetensors checkpoint")->required();
  tokenizer_option =
      sub->add_option("--tokenizer", tokenizer,
                      "byte, a folder with vocab.json and merges.txt, or a checkpoint carrying "
                      "one (default: the one --weights records, else byte)")
          ->capture_default_str();
  sub->add_option("--device", device, "cpu or cuda[:N]")->capture_default_str();
  sub->add_option("--dtype", dtype, "Compute dtype")->capture_default_str();
  sub->add_flag("--json", json, "Print the results as JSON instead of tables");
  if (!out_help.empty()) sub->add_option("--out", out, out_help);
}

void AnalysisInput::load() {
  if (!out.empty()) out_dir = std::make_unique<AtomicDir>(out, out_marker);
  const ModelConfig c = load_config(config);
  const Device d = parse_device(device);
  if (d.is_meta()) throw Error("the analyses need a device with values: cpu or cuda");
  tok = choose_tokenizer(tokenizer, tokenizer_option && tokenizer_option->count() > 0, weights,
                         c.vocab_size);
  arena = Arena::create(d, default_budget(d));
  model = build_model(c, arena, parse_dtype(dtype));
  print_load_warnings(load_weights(*model, weights), weights);
}

std::vector<std::int32_t> AnalysisInput::prompt(const std::string& ids, const std::string& text,
                                                const std::string& what) const {
  const std::string flag = what.empty() ? "--" : "--" + what + "-";
  const std::string name = what.empty() ? "prompt" : what + " prompt";
  if (ids.empty() == text.empty())
    throw Error("give the " + name + " one way: " + flag + "tokens \"1,2,3\" or " + flag +
                "text \"...\"");
  if (!text.empty()) return tok->encode(text);
  const auto rows = parse_token_rows(ids);
  if (rows.size() != 1) throw Error(name + ": one sequence (no ';')");
  return rows[0];
}

std::int32_t AnalysisInput::token(const std::string& spec, bool as_ids,
                                  const std::string& what) const {
  if (as_ids) {
    const auto rows = parse_token_rows(spec, what.c_str());
    if (rows.size() != 1 || rows[0].size() != 1) throw Error(what + ": one token id");
    // Checked here, not left to the analysis: -1 is what "no target" is stored as, so a
    // negative id would silently become the default target (or no distractor).
    const std::int64_t vocab = model ? model->config().vocab_size : tok->vocab_size();
    if (rows[0][0] < 0 || rows[0][0] >= vocab)
      throw Error(what + ": token id " + std::to_string(rows[0][0]) + " is out of range [0, " +
                  std::to_string(vocab) + ")");
    return rows[0][0];
  }
  const auto ids = tok->encode(spec);
  if (ids.size() != 1)
    throw Error(what + " \"" + spec + "\" is " + std::to_string(ids.size()) +
                " tokens with this tokenizer; give one token");
  return ids[0];
}

std::string AnalysisInput::show(std::int32_t id) const {
  std::string out;
  for (unsigned char ch : tok->token_text(id)) {
    if (ch == '\n') {
      out += "\\n";
    } else if (ch < 0x20 || ch == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", ch);
      out += b;
    } else {
      out += static_cast<char>(ch);
    }
  }
  return out;
}

std::vector<std::string> AnalysisInput::labels(const std::vector<std::int32_t>& ids) const {
  std::vector<std::string> out;
  for (std::int32_t id : ids) out.push_back(show(id));
  return out;
}

void AnalysisInput::commit_out() {
  if (out_dir) out_dir->commit();
}

}  // namespace cugpt::tools
