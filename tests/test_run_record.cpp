// Checkpoints that describe themselves (train/run_record.h): the tokenizer travels inside
// model.safetensors and comes back identical; a resumed run's differences are found and named;
// --allow-change names are checked; a checkpoint directory keeps the K newest checkpoints.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "io/atomic_file.h"
#include "io/checkpoint_dir.h"
#include "io/safetensors.h"
#include "kernels/error.h"
#include "models/config.h"
#include "tests/temp_dir_test.h"
#include "text/tokenizer.h"
#include "tools/tokenizer_choice.h"
#include "train/run_record.h"

namespace cugpt {
namespace {

namespace fs = std::filesystem;
const std::string kBpe = (fs::path(CUGPT_SOURCE_DIR) / "tests" / "data" / "bpe").string();

class RunRecordTest : public TempDirTest {};

TEST_F(RunRecordTest, EmbeddedBpeTokenizerEncodesAsTheFolder) {
  const auto folder = load_tokenizer(kBpe);
  const Metadata m = tokenizer_record(*folder, true);
  EXPECT_EQ(m.at("tokenizer"), "gpt2");
  ASSERT_FALSE(m.at("tokenizer_vocab").empty());
  // Through a real safetensors file: the header's JSON must carry the files' bytes unchanged.
  const std::string file = path("m.safetensors");
  save_safetensors(file, {}, m);
  const auto back = recorded_tokenizer(SafetensorsFile::open(file).metadata(), "test");
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->vocab_size(), folder->vocab_size());
  for (const char* text : {"Hello world, it's 2026!", " \n\tcafé ünïcode", ""})
    EXPECT_EQ(back->encode(text), folder->encode(text)) << text;
  EXPECT_EQ(back->end_of_text(), folder->end_of_text());
}

TEST_F(RunRecordTest, ManifestRecordHoldsTheHashNotTheFiles) {
  const auto folder = load_tokenizer(kBpe);
  const Metadata m = tokenizer_record(*folder, false);
  EXPECT_EQ(m.count("tokenizer_vocab"), 0u);
  EXPECT_EQ(m.at("tokenizer_fnv1a64").size(), 16u);
  // A hash alone cannot rebuild a tokenizer: nothing, not a wrong one.
  EXPECT_EQ(recorded_tokenizer(m, "test"), nullptr);
}

TEST_F(RunRecordTest, TamperedEmbeddedTokenizerIsAnError) {
  const auto folder = load_tokenizer(kBpe);
  Metadata m = tokenizer_record(*folder, true);
  m["tokenizer_merges"] += "\n";  // still parses, but no longer the recorded files
  EXPECT_THROW(recorded_tokenizer(m, "test"), Error);
}

TEST_F(RunRecordTest, ByteTokenizerIsRecordedByName) {
  ByteTokenizer byte;
  const Metadata m = tokenizer_record(byte, true);
  EXPECT_EQ(m.at("tokenizer"), "byte");
  EXPECT_EQ(m.count("tokenizer_vocab"), 0u);
  const auto back = recorded_tokenizer(m, "test");
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->name(), "byte");
}

TEST_F(RunRecordTest, ChooseTokenizerPrefersTheCommandLineThenTheCheckpoint) {
  const auto folder = load_tokenizer(kBpe);
  const std::string file = path("m.safetensors");
  save_safetensors(file, {}, tokenizer_record(*folder, true));
  // No --tokenizer: the checkpoint's.
  EXPECT_EQ(tools::choose_tokenizer("byte", false, file)->vocab_size(), folder->vocab_size());
  // --tokenizer byte overrides it.
  EXPECT_EQ(tools::choose_tokenizer("byte", true, file)->vocab_size(), 256);
  // --tokenizer CHECKPOINT takes the checkpoint's.
  EXPECT_EQ(tools::choose_tokenizer(file, true)->vocab_size(), folder->vocab_size());
  // A checkpoint that records none: byte.
  const std::string bare = path("bare.safetensors");
  save_safetensors(bare, {}, {{"format", "pt"}});
  EXPECT_EQ(tools::choose_tokenizer("byte", false, bare)->vocab_size(), 256);
  EXPECT_THROW(tools::choose_tokenizer(bare, true), Error);
}

TrainOptions options() {
  TrainOptions o;
  o.steps = 60;
  o.batch = 8;
  o.seq = 64;
  o.optim.lr = 3e-4;
  return o;
}

Metadata record(const TrainOptions& o, std::uint64_t data_hash = 1) {
  RunRecord r;
  r.data = "data.txt";
  r.data_fnv1a64 = data_hash;
  r.options = &o;
  return run_metadata(r, false);
}

TEST_F(RunRecordTest, SameArgumentsDifferInNothing) {
  const TrainOptions o = options();
  EXPECT_TRUE(records_run(record(o)));
  EXPECT_TRUE(run_differences(record(o), record(o)).empty());
}

TEST_F(RunRecordTest, EachComputingArgumentIsADifference) {
  const TrainOptions o = options();
  const auto only = [&](const Metadata& requested) {
    const auto d = run_differences(record(o), requested);
    return d.size() == 1 ? d[0].name : "(" + std::to_string(d.size()) + " differences)";
  };
  TrainOptions x = o;
  x.optim.lr = 1e-3;
  EXPECT_EQ(only(record(x)), "lr");
  x = o;
  x.batch = 4;
  EXPECT_EQ(only(record(x)), "batch");
  x = o;
  x.seq = 32;
  EXPECT_EQ(only(record(x)), "seq");
  x = o;
  x.steps = 80;
  EXPECT_EQ(only(record(x)), "steps");
  x = o;
  x.warmup = 3;
  EXPECT_EQ(only(record(x)), "warmup");
  x = o;
  x.seed = 7;
  EXPECT_EQ(only(record(x)), "seed");
  EXPECT_EQ(only(record(o, 2)), "data");
  // What only changes how a run is watched is no difference.
  x = o;
  x.eval_every = 5;
  x.recompute = 3;
  EXPECT_TRUE(run_differences(record(o), record(x)).empty());
  // A message shows values as a user wrote them.
  x = o;
  x.optim.lr = 1e-3;
  const auto d = run_differences(record(o), record(x));
  EXPECT_EQ(d[0].recorded, "0.0003");
  EXPECT_EQ(d[0].requested, "0.001");
  EXPECT_EQ(d[0].option, "--lr");
}

TEST_F(RunRecordTest, AnOlderRecordIsNotCompared) {
  const TrainOptions o = options();
  const Metadata old = {{"config", "gpt2-tiny"}, {"optimizer", "adamw"}};
  EXPECT_FALSE(records_run(old));
  EXPECT_TRUE(run_differences(old, record(o)).empty());
}

TEST_F(RunRecordTest, AllowedChangesAreNamesOrAll) {
  EXPECT_EQ(parse_allowed_changes("lr,steps"), (std::set<std::string>{"lr", "steps"}));
  EXPECT_EQ(parse_allowed_changes("all").size(), changeable_arguments().size());
  EXPECT_TRUE(parse_allowed_changes("").empty());
  try {
    parse_allowed_changes("lr,learning_rate");
    FAIL() << "an unknown name was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'learning_rate' is not an argument"), std::string::npos)
        << e.what();
  }
}

// A writer whose file holds `text`.
CheckpointDir::Writer text_file(const std::string& text) {
  return [text](const std::string& p) {
    AtomicFile f(p);
    f.write(text);
    f.commit();
    return f.digest();
  };
}

TEST_F(RunRecordTest, CheckpointDirKeepsTheNewestK) {
  const std::string run = path("run");
  {
    CheckpointDir out(run, 3);
    for (int step = 10; step <= 50; step += 10)
      out.publish(step, {{"model.safetensors", text_file("step " + std::to_string(step))}});
  }
  std::vector<std::string> steps;
  for (const auto& e : fs::directory_iterator(run))
    if (e.path().filename().string().rfind("step-", 0) == 0)
      steps.push_back(e.path().filename().string());
  std::sort(steps.begin(), steps.end());
  EXPECT_EQ(steps, (std::vector<std::string>{"step-30", "step-40", "step-50"}));
  const CheckpointManifest m = verify_checkpoint(run);
  EXPECT_EQ(m.directory, "step-50");
  EXPECT_EQ(m.previous, "step-40");
  EXPECT_EQ(m.kept, (std::vector<std::string>{"step-30"}));
  // A writer that opens the directory again keeps what the manifest lists.
  { CheckpointDir again(run, 3); }
  EXPECT_TRUE(fs::is_directory(run + "/step-30"));
  EXPECT_THROW(CheckpointDir(path("other"), 1), Error);
}

TEST_F(RunRecordTest, ManifestKeptMustBePlainNames) {
  CheckpointManifest m;
  m.step = 3;
  m.directory = "step-3";
  m.files = {{"model.safetensors", 1, 2}};
  m.kept = {"step-1"};
  EXPECT_EQ(parse_manifest(manifest_text(m), "t").kept, m.kept);
  std::string text = manifest_text(m);
  text.replace(text.find("\"step-1\""), 8, "\"../etc\"");
  EXPECT_THROW(parse_manifest(text, "t"), Error);
}

}  // namespace
}  // namespace cugpt
