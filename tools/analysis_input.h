// What every analysis subcommand (lens, ablate, patch, attribute, patterns) takes: a config, its
// weights, a device and dtype, a tokenizer, and prompts given as ids (--tokens "1,2,3") or text
// (--text "..."); tokens named by --target/--distractor are ids or text the same way.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "io/atomic_dir.h"
#include "models/factory.h"
#include "text/tokenizer.h"

namespace cugpt::tools {

struct AnalysisInput {
  std::string config, weights, tokenizer = "byte", device = "cpu", dtype = "f32", out;
  bool json = false;
  CLI::Option* tokenizer_option = nullptr;  // set by add_options: was --tokenizer given?
  // Loaded by load():
  std::shared_ptr<Arena> arena;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tok;

  // --out DIR is one set of files, as inspect's (io/atomic_dir.h): written into a temporary
  // directory and published whole by commit_out(); DIR must be new, empty or an earlier output
  // of the same command (it holds `out_marker`, the command's first file), else it is refused
  // before any work, untouched (issue 29).
  std::unique_ptr<AtomicDir> out_dir;
  std::string out_marker;

  // Adds config, --weights, --tokenizer, --device, --dtype, --json and (out_help non-empty)
  // --out, whose set always holds `out_marker`.
  void add_options(CLI::App* sub, const std::string& out_help, const std::string& marker = "");
  // Claims --out (refusing a directory this command did not write), then loads the model.
  void load();
  // One prompt: exactly one of ids and text non-empty; `what` names the options ("": --tokens
  // and --text, "clean": --clean-tokens and --clean-text).
  std::vector<std::int32_t> prompt(const std::string& ids, const std::string& text,
                                   const std::string& what) const;
  // One token: an id when `as_ids`, else text that must encode to exactly one token.
  std::int32_t token(const std::string& spec, bool as_ids, const std::string& what) const;
  std::vector<std::string> labels(const std::vector<std::int32_t>& ids) const;
  // Printable, one line: the token's text with control bytes escaped.
  std::string show(std::int32_t id) const;
  // Where a file of the --out set is written until commit_out().
  std::string path(const std::string& file) const { return out_dir->prefix() + file; }
  // Publishes the --out set (nothing without --out).
  void commit_out();
};

}  // namespace cugpt::tools
