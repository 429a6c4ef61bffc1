// Training checkpoints as one unit (io/checkpoint_dir.h): the manifest, the lock, torn and mixed
// pairs refused by name, and fault injection: a full disk at many byte offsets of a save, and a
// writer killed (SIGKILL) at many instants, each leave a checkpoint that resumes. A writer
// deletes or replaces nothing it did not write, nor another run's checkpoint unless told to
// (issue 29).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "byte_text.h"
#include "io/checkpoint.h"
#include "io/checkpoint_dir.h"
#include "io/safetensors.h"
#include "kernels/error.h"
#include "models/config.h"
#include "models/factory.h"
#include "models/init.h"
#include "temp_dir_test.h"
#include "train/trainer.h"

namespace cugpt {
namespace {

namespace fs = std::filesystem;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// A tiny model with its trainer, for saves and resumes.
struct TinyRun {
  explicit TinyRun(const Dataset& data) {
    o.steps = 1000;
    o.batch = 2;
    o.seq = 8;
    o.warmup = 1;
    arena = Arena::create(Device::cpu(), 64ull << 20);
    model = build_gpt(load_config("gpt2-bytes-tiny"), arena, DType::f32);
    init_parameters(*model, 1);
    trainer = std::make_unique<Trainer>(*model, data, o);
  }
  TrainOptions o;
  std::shared_ptr<Arena> arena;
  std::unique_ptr<Gpt> model;
  std::unique_ptr<Trainer> trainer;
};

class CheckpointUnit : public TempDirTest {
 protected:
  CheckpointUnit() : data_(Dataset::from_tokens(tokens(), 256)) {}
  static std::vector<std::int32_t> tokens() {
    const std::string t = byte_text();
    return {t.begin(), t.end()};
  }
  // The step a fresh trainer resumes at from `dir` (throws what resume throws).
  std::int64_t resumed_step(const std::string& dir) {
    TinyRun r(data_);
    r.trainer->resume(dir);
    return r.trainer->steps_done();
  }
  // A file holding `text`, written as a checkpoint's files are.
  static CheckpointDir::Writer text_file(const std::string& text) {
    return [text](const std::string& p) {
      AtomicFile f(p);
      f.write(text);
      f.commit();
      return f.digest();
    };
  }
  static void write(const std::string& path, const std::string& text) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << text;
  }
  static std::string read(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }
  std::vector<std::string> step_dirs(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_directory() && !e.is_symlink()) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }
  Dataset data_;
};

TEST_F(CheckpointUnit, PublishesAStepDirectoryAndKeepsThePreviousOne) {
  const std::string dir = path("run");
  TinyRun r(data_);
  for (int i = 0; i < 3; ++i) {
    r.trainer->step();
    r.trainer->save(dir);
  }
  const CheckpointManifest m = verify_checkpoint(dir);
  EXPECT_EQ(m.step, 3);
  EXPECT_EQ(m.directory, "step-3");
  EXPECT_EQ(m.previous, "step-2");
  ASSERT_EQ(m.files.size(), 2u);
  EXPECT_EQ(m.metadata.at("config"), "gpt2-bytes-tiny");
  // The current and the previous complete checkpoint; step-1 is gone.
  EXPECT_EQ(step_dirs(dir), (std::vector<std::string>{"step-2", "step-3"}));
  // The convenience links name the committed files.
  EXPECT_EQ(fs::read_symlink(dir + "/model.safetensors"), "step-3/model.safetensors");
  EXPECT_EQ(resumed_step(dir), 3);
  // A writer opening the directory keeps both.
  { CheckpointDir reopened(dir); }
  EXPECT_EQ(step_dirs(dir), (std::vector<std::string>{"step-2", "step-3"}));
  // The same step saved twice gets a fresh directory; the one in use is never rewritten.
  r.trainer->save(dir);
  EXPECT_EQ(verify_checkpoint(dir).directory, "step-3-1");
}

TEST_F(CheckpointUnit, ASecondWriterIsRefusedWithOneLine) {
  CheckpointDir first(path("run"));
  const std::string e = error_of([&] { CheckpointDir second(path("run")); });
  EXPECT_NE(e.find("is in use by another cugpt process"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);
}

TEST_F(CheckpointUnit, TornAndMixedPairsAreRefusedNamingTheFile) {
  const std::string a = path("a"), b = path("b");
  TinyRun r(data_);
  r.trainer->step();
  r.trainer->save(a);
  r.trainer->step();
  r.trainer->save(b);
  // Mixed: run b's optimizer beside run a's model (what two writers could once leave).
  fs::copy_file(b + "/step-2/optimizer.safetensors", a + "/step-1/optimizer.safetensors",
                fs::copy_options::overwrite_existing);
  std::string e = error_of([&] { resumed_step(a); });
  EXPECT_NE(e.find("step-1/optimizer.safetensors"), std::string::npos) << e;
  // Torn: a model file cut short.
  fs::resize_file(b + "/step-2/model.safetensors", 100);
  e = error_of([&] { resumed_step(b); });
  EXPECT_NE(e.find("step-2/model.safetensors is 100 bytes, the manifest says"), std::string::npos)
      << e;
  // A directory without a manifest (the old two-file layout) is refused, not guessed at.
  fs::create_directories(path("old"));
  fs::copy_file(b + "/step-2/optimizer.safetensors", path("old/model.safetensors"));
  e = error_of([&] { resumed_step(path("old")); });
  EXPECT_NE(e.find("no manifest.json"), std::string::npos) << e;
}

TEST_F(CheckpointUnit, ManifestFieldsAreValidated) {
  const auto parse = [](const std::string& text) {
    return error_of([&] { parse_manifest(text, "m"); });
  };
  const std::string files =
      R"("files": {"model.safetensors": {"bytes": 1, "fnv1a64": "00000000000000ff"}})";
  const auto with = [&](const std::string& step, const std::string& dir) {
    return R"({"format": "cugpt-checkpoint", "version": 1, "step": )" + step +
           R"(, "directory": )" + dir + ", " + files + "}";
  };
  EXPECT_EQ(parse(with("4", "\"step-4\"")), "(no error)");
  EXPECT_NE(parse(with("-5", "\"step-4\"")).find("field 'step' = -5 is out of range"),
            std::string::npos);
  EXPECT_NE(parse(with("\"4\"", "\"step-4\"")).find("'step' must be an integer"),
            std::string::npos);
  EXPECT_NE(parse(with("4", "\"../elsewhere\"")).find("plain directory name"), std::string::npos);
  EXPECT_NE(parse(with("4", "\".step-4.tmp\"")).find("plain directory name"), std::string::npos);
  EXPECT_NE(parse("{\"format\": 1").find("m: invalid JSON at byte"), std::string::npos);
  // The JSON library's own error codes do not reach the message.
  EXPECT_EQ(parse("{\"format\": 1").find("json.exception"), std::string::npos);
}

TEST_F(CheckpointUnit, ResumeMetadataIsValidatedLikeAnOption) {
  // A manifest and files that agree, but whose metadata says step -5.
  const std::string dir = path("run");
  TinyRun r(data_);
  r.trainer->step();
  {
    CheckpointDir out(dir);
    const std::map<std::string, std::string> meta = {{"step", "-5"}, {"optimizer", "adamw"}};
    out.publish(1, {{"model.safetensors",
                     [&](const std::string& p) { return save_checkpoint(*r.model, p, meta); }},
                    {"optimizer.safetensors", [&](const std::string& p) {
                       return save_safetensors(p, r.trainer->optimizer().named_state(), meta);
                     }}});
  }
  const std::string e = error_of([&] { resumed_step(dir); });
  EXPECT_NE(e.find("metadata 'step' = -5 is out of range"), std::string::npos) << e;
}

// What cugpt did not write is refused by name before anything is added to the directory, and
// stays as it was: a step directory of the user's, a regular file where a link goes, another
// tool's manifest.json, a file beside a checkpoint (issue 29: each was deleted or replaced).
TEST_F(CheckpointUnit, RefusesWhatItDidNotWriteAndTouchesNothing) {
  const auto refusal = [&](const std::string& dir) {
    return error_of([&] { CheckpointDir out(dir); });
  };
  write(path("a/step-1/precious.txt"), "x");
  std::string e = refusal(path("a"));
  EXPECT_NE(e.find("holds what cugpt did not write: step-1/ (with precious.txt)"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("give an empty or new --out"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);
  EXPECT_EQ(read(path("a/step-1/precious.txt")), "x");
  EXPECT_FALSE(fs::exists(path("a/.lock")));  // nothing added either

  write(path("b/step-7/chapter1.txt"), "It was a dark night.");
  EXPECT_NE(refusal(path("b")).find("step-7/ (with chapter1.txt)"), std::string::npos);
  EXPECT_EQ(read(path("b/step-7/chapter1.txt")), "It was a dark night.");

  write(path("c/model.safetensors"), "mine");
  EXPECT_NE(refusal(path("c")).find("did not write: model.safetensors."), std::string::npos)
      << refusal(path("c"));
  EXPECT_FALSE(fs::is_symlink(path("c/model.safetensors")));
  EXPECT_EQ(read(path("c/model.safetensors")), "mine");

  write(path("d/manifest.json"), R"({"tool": "another", "version": 3})");
  e = refusal(path("d"));
  EXPECT_NE(e.find("manifest.json (not a cugpt checkpoint's: manifest.json: missing field "
                   "'format')"),
            std::string::npos)
      << e;
  EXPECT_EQ(read(path("d/manifest.json")), R"({"tool": "another", "version": 3})");

  // A file beside a checkpoint of cugpt's is refused too, and the checkpoint stays.
  {
    CheckpointDir out(path("e"));
    out.publish(1, {{"model.safetensors", text_file("one")}});
  }
  write(path("e/notes.txt"), "mine");
  EXPECT_NE(refusal(path("e")).find("did not write: notes.txt."), std::string::npos);
  EXPECT_EQ(verify_checkpoint(path("e")).directory, "step-1");
  // An empty directory is taken.
  fs::create_directories(path("f"));
  EXPECT_EQ(refusal(path("f")), "(no error)");
}

// Another run's checkpoint is refused unless this writer continues that run; --overwrite replaces
// it, removing only the step directories its manifest listed, once this run's first checkpoint is
// committed.
TEST_F(CheckpointUnit, AnotherRunsCheckpointIsReplacedOnlyWhenAsked) {
  const std::string dir = path("run");
  const std::string first = new_run_id(), second = new_run_id();
  ASSERT_NE(first, second);
  {
    CheckpointDir out(dir, CheckpointDirOptions{2, first, false});
    out.publish(2, {{"model.safetensors", text_file("first 2")}});
    out.publish(4, {{"model.safetensors", text_file("first 4")}});
  }
  EXPECT_EQ(verify_checkpoint(dir).run, first);
  const std::string e = error_of([&] {
    CheckpointDir out(dir, CheckpointDirOptions{2, second, false});
  });
  EXPECT_NE(e.find("holds the checkpoint of another run (step 4, step-4/): continue it with "
                   "--resume"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("--overwrite"), std::string::npos) << e;
  EXPECT_EQ(step_dirs(dir), (std::vector<std::string>{"step-2", "step-4"}));
  // The same run continues (and so does the library's default, which adopts any run).
  { CheckpointDir same(dir, CheckpointDirOptions{2, first, false}); }
  { CheckpointDir any(dir); }
  EXPECT_EQ(step_dirs(dir), (std::vector<std::string>{"step-2", "step-4"}));
  // --overwrite: the first run's checkpoint stays until the second run's first commit.
  CheckpointDir out(dir, CheckpointDirOptions{2, second, true});
  EXPECT_EQ(step_dirs(dir), (std::vector<std::string>{"step-2", "step-4"}));
  out.publish(1, {{"model.safetensors", text_file("second 1")}});
  CheckpointManifest m = verify_checkpoint(dir);
  EXPECT_EQ(m.run, second);
  EXPECT_EQ(m.previous, "");  // no checkpoint of another run is this run's previous
  EXPECT_EQ(step_dirs(dir), (std::vector<std::string>{"step-1"}));
  EXPECT_EQ(fs::read_symlink(dir + "/model.safetensors"), "step-1/model.safetensors");
  out.publish(2, {{"model.safetensors", text_file("second 2")}});
  m = verify_checkpoint(dir);
  EXPECT_EQ(m.previous, "step-1");
  EXPECT_EQ(step_dirs(dir), (std::vector<std::string>{"step-1", "step-2"}));
}

// --overwrite never removes what no manifest lists; pruning by --keep removes only cugpt's files
// from the step directories the manifest listed: a file someone put there keeps the directory,
// which a later writer then refuses by name.
TEST_F(CheckpointUnit, PruningRemovesOnlyCugptsFiles) {
  const std::string dir = path("run");
  {
    CheckpointDir out(dir);
    out.publish(1, {{"model.safetensors", text_file("1")}});
    out.publish(2, {{"model.safetensors", text_file("2")}});
    write(dir + "/step-1/notes.txt", "mine");
    out.publish(3, {{"model.safetensors", text_file("3")}});
  }
  EXPECT_EQ(read(dir + "/step-1/notes.txt"), "mine");
  EXPECT_FALSE(fs::exists(dir + "/step-1/model.safetensors"));
  const std::string e = error_of([&] { CheckpointDir again(dir); });
  EXPECT_NE(e.find("did not write: step-1/ (with notes.txt)"), std::string::npos) << e;
  // --overwrite does not lift that.
  const std::string o = error_of([&] {
    CheckpointDir out(dir, CheckpointDirOptions{2, new_run_id(), true});
  });
  EXPECT_NE(o.find("did not write: step-1/"), std::string::npos) << o;
  EXPECT_EQ(read(dir + "/step-1/notes.txt"), "mine");
}

// A step directory no manifest lists with cugpt's marker and only its files is an interrupted
// save (killed between its rename and the manifest's commit): cleaned, as the hidden temporaries.
TEST_F(CheckpointUnit, InterruptedSavesAreCleaned) {
  const std::string dir = path("run");
  {
    CheckpointDir out(dir);
    out.publish(1, {{"model.safetensors", text_file("1")}});
  }
  fs::copy(dir + "/step-1", dir + "/step-2");
  write(dir + "/.step-3.tmp.12345.0/model.safetensors", "half");
  write(dir + "/manifest.json.tmp.12345.1", "{");
  fs::create_symlink("step-2/model.safetensors", dir + "/model.safetensors.tmp.12345");
  { CheckpointDir again(dir); }
  EXPECT_EQ(step_dirs(dir), (std::vector<std::string>{"step-1"}));
  EXPECT_FALSE(fs::exists(dir + "/manifest.json.tmp.12345.1"));
  EXPECT_FALSE(fs::is_symlink(dir + "/model.safetensors.tmp.12345"));
  // A removal killed between the marker's unlink and the rmdir leaves an empty step directory
  // (seen once by KilledWriterAtAnyInstantLeavesAResumableCheckpoint): cleaned, not refused.
  fs::create_directory(dir + "/step-6");
  { CheckpointDir again(dir); }
  EXPECT_EQ(step_dirs(dir), (std::vector<std::string>{"step-1"}));
  // Without the marker, the same directory is not known as cugpt's: refused, kept.
  fs::copy(dir + "/step-1", dir + "/step-5");
  fs::remove(dir + "/step-5/.cugpt-step");
  EXPECT_NE(error_of([&] { CheckpointDir again(dir); }).find("did not write: step-5/"),
            std::string::npos);
  EXPECT_TRUE(fs::exists(dir + "/step-5/model.safetensors"));
}

TEST_F(CheckpointUnit, ManifestWithADuplicateKeyIsRefused) {
  const auto parse = [](const std::string& text) {
    return error_of([&] { parse_manifest(text, "m"); });
  };
  const std::string files =
      R"("files": {"model.safetensors": {"bytes": 1, "fnv1a64": "00000000000000ff"}})";
  const std::string head = R"({"format": "cugpt-checkpoint", "version": 1, )";
  EXPECT_EQ(parse(head + R"("step": 4, "directory": "step-4", )" + files + "}"), "(no error)");
  // nlohmann keeps the last of two keys: this manifest read as step 9.
  EXPECT_EQ(parse(head + R"("step": 4, "directory": "step-4", "step": 9, )" + files + "}"),
            "m: field 'step' appears twice");
  EXPECT_EQ(parse(head + R"("step": 4, "directory": "step-4", "files": {"model.safetensors": )" +
                  R"({"bytes": 1, "bytes": 2, "fnv1a64": "00000000000000ff"}}})"),
            "m: key 'bytes' appears twice in one object");
  EXPECT_EQ(parse(head + R"("step": 4, "directory": "step-4", )" + files +
                  R"(, "metadata": {"config": "a", "config": "b"}})"),
            "m: key 'config' appears twice in one object");
  // The same key in two objects is no duplicate; the run id travels through a round trip.
  CheckpointManifest m;
  m.step = 3;
  m.directory = "step-3";
  m.files = {{"model.safetensors", 1, 2}, {"optimizer.safetensors", 1, 2}};
  m.run = new_run_id();
  EXPECT_EQ(parse_manifest(manifest_text(m), "m").run, m.run);
  EXPECT_NE(parse(head + R"("step": 4, "directory": "step-4", "run": "x", )" + files + "}")
                .find("field 'run' must be 16 lowercase hex digits"),
            std::string::npos);
}

// A full disk at every one of many byte offsets of a save: the save fails with one line, the
// previous checkpoint resumes, and the next save succeeds.
TEST_F(CheckpointUnit, FullDiskAtAnyByteLeavesTheLastCheckpoint) {
  const std::string dir = path("run");
  TinyRun r(data_);
  r.trainer->step();
  r.trainer->save(dir);
  std::uint64_t total = 0;
  for (const ManifestFile& f : verify_checkpoint(dir).files) total += f.bytes;
  total += 1000;      // the manifest itself
  r.trainer->step();  // now at step 2; every failed save below is of step 2
  int faults = 0;
  for (std::uint64_t at = 0; at < total; at = at < 64 ? at + 7 : at + total / 37) {
    inject_write_fault_after(static_cast<std::int64_t>(at));
    std::string e = error_of([&] { r.trainer->save(dir); });
    inject_write_fault_after(-1);
    if (e == "(no error)") {  // the fault lay past the save's last byte
      EXPECT_GT(at, total - 1000);
      break;
    }
    ++faults;
    EXPECT_NE(e.find("No space left on device"), std::string::npos) << at << ": " << e;
    ASSERT_EQ(resumed_step(dir), 1) << "fault at byte " << at;
  }
  EXPECT_GT(faults, 30);
  r.trainer->save(dir);
  EXPECT_EQ(resumed_step(dir), 2);
  // No leftovers of the failed saves once a writer opened the directory again.
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_NE(e.path().filename().string().rfind(".step-", 0), 0u) << e.path();
}

// kill -9 at many instants of a writer that saves again and again: what it leaves always
// verifies and resumes, at a step no older than the first checkpoint.
TEST_F(CheckpointUnit, KilledWriterAtAnyInstantLeavesAResumableCheckpoint) {
  const std::string dir = path("run");
  {
    TinyRun r(data_);
    r.trainer->save(dir);  // step 0
  }
  std::int64_t last = 0;
  for (int k = 0; k < 24; ++k) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      TinyRun r(data_);
      CheckpointDir out(dir);
      for (int i = 0; i < 1000; ++i) {
        r.trainer->save(out);
        r.trainer->step();
      }
      ::_exit(0);
    }
    // Kill points spread over start-up, training steps and saves.
    ::usleep(static_cast<useconds_t>(2000 + k * 1700));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the writer ended before the kill";
    const CheckpointManifest m = verify_checkpoint(dir);
    last = resumed_step(dir);
    EXPECT_EQ(last, m.step);
    // Once a writer opens the directory, only the current and the previous checkpoint remain.
    { CheckpointDir reopened(dir); }
    EXPECT_LE(step_dirs(dir).size(), 2u);
  }
  EXPECT_GE(last, 0);
}

}  // namespace
}  // namespace cugpt
