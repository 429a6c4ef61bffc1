// What a training checkpoint says about itself, so that it can be reused without the command
// that made it: the config (name and file text), the compute dtype, the tokenizer (its files
// embedded in model.safetensors, their hash in the manifest), and the arguments that decide
// what the run computes (data, batch, sequence, schedule, optimizer settings, seed). All of it
// is string metadata: safetensors' "__metadata__" and the manifest's "metadata".
//
//   tokenizer            "byte", "gpt2" or "roberta"
//   tokenizer_source     where it was read from (for messages)
//   tokenizer_fnv1a64    hash of kind, vocabulary and merges
//   tokenizer_vocab      vocab.json's text      (model.safetensors only: the manifest stays
//   tokenizer_merges     merges.txt's text       small)
//   config, config_json  the config's name and its file's text
//   dtype                the compute dtype
//   train.<arg>          data, data_fnv1a64, batch, seq, accum, lr, warmup, min_lr_fraction,
//                        steps, weight_decay, clip, optimizer, seed, init_from
//
// A resumed run compares its arguments with the record: any difference is an error naming it,
// unless the argument is allowed to change (--allow-change).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "models/config.h"
#include "text/tokenizer.h"
#include "train/trainer.h"

namespace cugpt {

using Metadata = std::map<std::string, std::string>;

// The tokenizer's keys; the files' text only when `embed_files`.
Metadata tokenizer_record(const Tokenizer& tok, bool embed_files);
// The tokenizer a record embeds, or nullptr when it records none (or only its hash: the
// manifest). `where` prefixes messages ("'run/model.safetensors': recorded tokenizer").
std::unique_ptr<Tokenizer> recorded_tokenizer(const Metadata& meta, const std::string& where);

// What a training run records: everything above.
struct RunRecord {
  const ModelConfig* config = nullptr;
  DType dtype = DType::f32;
  const Tokenizer* tokenizer = nullptr;
  std::string data;                // the --data path
  std::uint64_t data_fnv1a64 = 0;  // the data file's bytes
  std::string init_from;           // --init-from, "" if none
  const TrainOptions* options = nullptr;
};
// For model.safetensors (`embed_files`: the tokenizer's files too) or the manifest.
Metadata run_metadata(const RunRecord& r, bool embed_files);

// One argument that differs between a record and a resumed run.
struct RunDifference {
  std::string name;    // as --allow-change names it: "lr", "data", "steps", ...
  std::string option;  // "--lr"
  std::string recorded, requested;
};
// The train.* arguments (and the config and tokenizer) of `requested` that differ from
// `recorded`; keys absent from the record (an older checkpoint) are not compared.
std::vector<RunDifference> run_differences(const Metadata& recorded, const Metadata& requested);
// Whether the record has train.* arguments at all (checkpoints before this have none).
bool records_run(const Metadata& recorded);
// The names --allow-change takes, in order.
const std::vector<std::string>& changeable_arguments();
// Parses "lr,steps" or "all"; an unknown name is a one-line error listing the names.
std::set<std::string> parse_allowed_changes(const std::string& list);

}  // namespace cugpt
