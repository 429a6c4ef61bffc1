// Hardening (issue #8): every bad input at a loader is one cugpt::Error line; the fuzz targets'
// checks replayed on their seed corpora and on the inputs that once broke them; budgets, killed
// and concurrent writes; the largest bundled model on the meta device without real memory.
// docs/robustness.md catalogues each case with the test that holds it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <thread>

#include "fuzz/checks.h"
#include "fuzz/checks_inputs.h"
#include "io/atomic_dir.h"
#include "io/atomic_file.h"
#include "models/factory.h"
#include "models/param_report.h"
#include "tests/temp_dir_test.h"
#include "tools/batch.h"
#include "train/dataset.h"
#include "train/memory_plan.h"

namespace cugpt {
namespace {

namespace fs = std::filesystem;
const fs::path kSource = CUGPT_SOURCE_DIR;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The error of `f` is one line holding `expected`.
void expect_error(const std::function<void()>& f, const std::string& expected) {
  const std::string msg = error_of(f);
  EXPECT_NE(msg.find(expected), std::string::npos) << "'" << msg << "' lacks '" << expected << "'";
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

std::string config_error(const std::string& json) {
  return error_of([&] { parse_config(json, "c.json", "c"); });
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A fresh directory per test.
class Robust : public TempDirTest {};

const std::string kGpt2Head = R"({"model_type": "gpt2", "vocab_size": 100, "n_positions": 16, )";

TEST(RobustConfig, DuplicateFieldIsAnError) {
  EXPECT_EQ(config_error(kGpt2Head + R"("n_embd": 32, "n_layer": 2, "n_head": 4, "n_head": 8})"),
            "config 'c.json': field 'n_head' appears twice");
  // Nested objects may repeat their own keys' names: only the top level is the config.
  EXPECT_EQ(config_error(kGpt2Head + R"("n_embd": 32, "n_layer": 2, "n_head": 4,
                                        "task_specific_params": {"n_head": 1}})"),
            "");
}

TEST(RobustConfig, OutOfRangeValuesAreQuotedAsWritten) {
  EXPECT_EQ(config_error(R"({"model_type": "gpt2", "vocab_size": 18446744073709551615,
                             "n_positions": 16, "n_embd": 32, "n_layer": 2, "n_head": 4})"),
            "config 'c.json': field 'vocab_size' = 18446744073709551615 is out of range [1, "
            "16777216]");
  EXPECT_NE(config_error(kGpt2Head + R"("n_embd": 32, "n_layer": 2, "n_head": 0})")
                .find("'n_head' = 0 is out of range"),
            std::string::npos);
  EXPECT_NE(config_error(kGpt2Head + R"("n_embd": 65537, "n_layer": 2, "n_head": 1})")
                .find("'n_embd' = 65537 is out of range [1, 65536]"),
            std::string::npos);
  EXPECT_NE(config_error(kGpt2Head + R"("n_embd": 32, "n_layer": 1025, "n_head": 4})")
                .find("'n_layer' = 1025 is out of range"),
            std::string::npos);
  EXPECT_NE(config_error(kGpt2Head + R"("n_embd": 32, "n_layer": 2, "n_head": 4,
                                        "layer_norm_epsilon": -1})")
                .find("'layer_norm_epsilon' = -1 is out of range"),
            std::string::npos);
  EXPECT_NE(config_error(R"({"model_type": "roberta", "vocab_size": 10,
                             "max_position_embeddings": 40, "type_vocab_size": 1,
                             "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
                             "intermediate_size": 16, "pad_token_id": 10})")
                .find("'pad_token_id' = 10 is out of range [0, 9]"),
            std::string::npos);
}

TEST(RobustConfig, WrongTypesAndShapesOfTheDocument) {
  EXPECT_NE(config_error(kGpt2Head + R"("n_embd": 32, "n_layer": 2.0, "n_head": 4})")
                .find("'n_layer' must be an integer"),
            std::string::npos);
  EXPECT_NE(config_error(kGpt2Head + R"("n_embd": null, "n_layer": 2, "n_head": 4})")
                .find("'n_embd' must be an integer"),
            std::string::npos);
  EXPECT_NE(config_error(kGpt2Head + R"("n_embd": 4, "n_layer": 2, "n_head": 8})")
                .find("n_embd 4 is not divisible by n_head 8"),
            std::string::npos);
  EXPECT_NE(config_error("").find("invalid JSON"), std::string::npos);
  EXPECT_NE(config_error("\"gpt2\"").find("expected a JSON object"), std::string::npos);
  EXPECT_NE(config_error(R"({"model_type": 2})").find("'model_type' must be a string"),
            std::string::npos);
  // Nesting deep enough to overflow a recursive parser: still one error, no crash.
  EXPECT_NE(config_error(std::string(100000, '[') + std::string(100000, ']'))
                .find("expected a JSON object"),
            std::string::npos);
}

TEST(RobustConfig, TextFromTheFileCannotBreakTheLine) {
  expect_error([] { parse_config(R"({"model_type": "gpt\n2"})", "c.json", "c"); },
               "unknown model_type 'gpt\\n2'");
  expect_error(
      [] {
        parse_config(kGpt2Head + R"("n_embd": 32, "n_layer": 2, "n_head": 4,
                                    "activation_function": "re\r\nlu"})",
                     "c.json", "c");
      },
      "'re\\r\\nlu' is not a supported activation");
}

TEST_F(Robust, DirectoriesWhereFilesBelong) {
  expect_error([&] { load_config(dir_.string()); }, "is neither a file nor a bundled name");
  expect_error([&] { SafetensorsFile::open(dir_.string()); }, "is a directory, not a file");
  expect_error([&] { read_npy(dir_.string()); }, "is a directory, not a file");
}

// --- checkpoints -------------------------------------------------------------------------

// The micro GPT-2 of the fuzz checks, on cpu, with every value set to 0.5.
struct Micro {
  std::shared_ptr<Arena> arena = Arena::create(Device::cpu(), 1 << 20);
  std::unique_ptr<Model> model;
  explicit Micro(DType dtype = DType::f32) {
    model = build_model(parse_config(fuzz::kMicroConfig, "micro", "micro"), arena, dtype);
    for (auto& p : model->named_parameters())
      p.tensor.copy_from_floats(
          std::vector<float>(static_cast<std::size_t>(p.tensor.numel()), .5f));
  }
};

TEST_F(Robust, NonFiniteWeightsAreReportedByName) {
  for (const DType dtype : {DType::f32, DType::bf16, DType::f16}) {
    Micro m(dtype);
    auto params = m.model->named_parameters();
    std::vector<float> v = params[0].tensor.to_floats();
    v[0] = std::nanf("");
    v[3] = -std::numeric_limits<float>::infinity();
    params[0].tensor.copy_from_floats(v);
    std::vector<float> w = params[2].tensor.to_floats();
    w[1] = std::numeric_limits<float>::infinity();
    params[2].tensor.copy_from_floats(w);
    save_checkpoint(*m.model, path("nan.safetensors"));

    Micro fresh(dtype);
    const LoadReport r = load_checkpoint(*fresh.model, path("nan.safetensors"));
    ASSERT_EQ(r.nonfinite.size(), 2u) << dtype_name(dtype);
    EXPECT_EQ(r.nonfinite[0], std::make_pair(params[0].name, std::int64_t{2}));
    EXPECT_EQ(r.nonfinite[1], std::make_pair(params[2].name, std::int64_t{1}));
    EXPECT_TRUE(std::isnan(fresh.model->named_parameters()[0].tensor.to_floats()[0]));  // kept
  }
  Micro clean;
  save_checkpoint(*clean.model, path("clean.safetensors"));
  EXPECT_TRUE(load_checkpoint(*Micro().model, path("clean.safetensors")).nonfinite.empty());
}

TEST_F(Robust, CheckpointNamesWithControlCharactersStayOnOneLine) {
  Micro m;
  auto entries = std::vector<std::pair<std::string, Tensor>>{};
  for (const auto& p : m.model->named_parameters()) entries.emplace_back(p.name, p.tensor);
  entries.emplace_back("evil\nname\x1b[31m", entries[0].second);
  save_safetensors(path("x.safetensors"), entries);
  expect_error([&] { load_checkpoint(*m.model, path("x.safetensors")); },
               "not in the model: evil\\nname\\x1B[31m");
}

TEST_F(Robust, CheckpointDtypeMessagesSayWhatToDo) {
  Micro bf16(DType::bf16);
  save_checkpoint(*bf16.model, path("bf16.safetensors"));
  expect_error([&] { load_checkpoint(*Micro().model, path("bf16.safetensors")); },
               "has dtype BF16, model expects F32 (build the model in BF16, e.g. with --dtype");
  // Integer data under a weight's name: no model holds it.
  Micro m;
  auto entries = std::vector<std::pair<std::string, Tensor>>{};
  for (const auto& p : m.model->named_parameters()) {
    Tensor t = Tensor::empty(m.arena, p.tensor.shape(), DType::i32, Category::parameter);
    t.zero();
    entries.emplace_back(p.name, t);
  }
  save_safetensors(path("i32.safetensors"), entries);
  expect_error([&] { load_checkpoint(*m.model, path("i32.safetensors")); },
               "has dtype I32, model expects F32 (integer data is no model weight)");
  const std::string header = R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})";
  std::string length(8, '\0');
  length[0] = static_cast<char>(header.size());
  std::ofstream(path("u8.safetensors"), std::ios::binary) << length + header + "abcd";
  expect_error([&] { SafetensorsFile::open(path("u8.safetensors")); },
               "unsupported dtype 'U8' (supported: F32, F16, BF16, F64, I32)");
}

// --- tokens and budgets -------------------------------------------------------------------

TEST(RobustTokens, EveryFamilyValidatesIdsAndLengths) {
  for (const char* name : {"gpt2-tiny", "gpt-day18-tiny", "roberta-tiny"}) {
    const ModelConfig c = load_config(name);
    auto arena = Arena::create(Device::cpu(), 64 << 20);
    auto model = build_model(c, arena, DType::f32);
    const auto forward = [&](const std::string& tokens) {
      return [&, tokens] { model->forward(make_batch(c, parse_token_rows(tokens))); };
    };
    expect_error(forward(std::to_string(c.vocab_size)), "is outside the vocabulary");
    expect_error(forward("3,-1"), "token id -1 at batch 0, position 1 is outside the vocabulary");
    expect_error(forward(" "), "empty input");
    std::string too_long = "0";
    for (std::int64_t i = 0; i < model->max_sequence(); ++i) too_long += ",0";
    expect_error(forward(too_long), "positions of " + std::string(name));
    expect_error(forward("1,2;"), "empty sequence 2");
  }
}

TEST(RobustBudget, SmallerThanTheParametersIsATypedErrorAndTheArenaRecovers) {
  auto arena = Arena::create(Device::cpu(), 64 << 10);
  try {
    build_model(load_config("gpt2-tiny"), arena, DType::f32);
    FAIL() << "gpt2-tiny (115 KiB of f32 parameters) fit a 64 KiB arena";
  } catch (const OutOfMemory& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.category(), Category::parameter);
    EXPECT_NE(msg.find("out of memory on cpu: requested"), std::string::npos) << msg;
    EXPECT_NE(msg.find("budget 64.0 KiB"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  EXPECT_EQ(arena->in_use(), 0u);  // the half-built model gave its tensors back
  // A model that fits the budget builds in the same arena.
  EXPECT_NO_THROW(
      build_model(parse_config(fuzz::kMicroConfig, "micro", "micro"), arena, DType::f32));
}

// --- writes -------------------------------------------------------------------------------

// An AtomicDir set fails as a whole: a full disk at any byte of any file leaves the previous
// set (two files) exactly as it was and no temporary; the next writer replaces the whole set.
TEST_F(Robust, DirectoryWrittenAsOneSet) {
  const std::string out = path("set");
  const auto write_set = [&](const std::string& tag, int files) {
    AtomicDir d(out, "stats.json");
    for (int i = 0; i < files; ++i)
      write_file_atomic(d.prefix() + "f" + std::to_string(i) + ".npy", tag + std::to_string(i));
    write_file_atomic(d.prefix() + "stats.json", tag);
    d.commit();
  };
  write_set("old", 2);
  const std::vector<std::string> before = listing();
  for (std::int64_t fault = 0; fault < 12; ++fault) {
    inject_write_fault_after(fault);
    EXPECT_THROW(write_set("new-set", 4), Error) << fault;
    inject_write_fault_after(-1);
    EXPECT_EQ(listing(), before) << "fault after " << fault << " bytes";
    EXPECT_EQ(read_all(out + "/stats.json"), "old");
    EXPECT_EQ(read_all(out + "/f1.npy"), "old1");
    EXPECT_FALSE(fs::exists(out + "/f2.npy"));
  }
  write_set("new", 3);
  write_set("last", 1);  // fewer files: the set is replaced, not merged
  EXPECT_EQ(read_all(out + "/f0.npy"), "last0");
  EXPECT_FALSE(fs::exists(out + "/f1.npy"));
  EXPECT_EQ(listing(), before);  // "set" alone: no temporary, no old set beside it
}

TEST_F(Robust, DirectorySetRefusesWhatItDidNotWrite) {
  std::ofstream(path("file")) << "x";
  expect_error([&] { AtomicDir d(path("file"), "stats.json"); }, "it is a regular file");
  fs::create_directory(path("theirs"));
  std::ofstream(path("theirs/notes.txt")) << "keep";
  expect_error([&] { AtomicDir d(path("theirs"), "stats.json"); }, "no stats.json");
  fs::create_directory_symlink(path("theirs"), path("link"));
  expect_error([&] { AtomicDir d(path("link"), "stats.json"); }, "it is a symbolic link");
  EXPECT_EQ(read_all(path("theirs/notes.txt")), "keep");
  fs::create_directory(path("empty"));  // an empty directory is taken
  {
    AtomicDir d(path("empty"), "stats.json");
    write_file_atomic(d.prefix() + "stats.json", "{}");
    d.commit();
  }
  EXPECT_EQ(read_all(path("empty/stats.json")), "{}");
}

// Decision: the training split must hold one sequence and its target before any step; the
// validation split only when evaluation is asked for (it is not read otherwise).
TEST(RobustData, ShortSplitsAreFoundBeforeTraining) {
  std::vector<std::int32_t> tokens(100, 1);
  const Dataset d = Dataset::from_tokens(tokens, 10, 0.1);  // 90 train, 10 validation
  EXPECT_NO_THROW(d.require_sequence("x.bin", 9, true));
  expect_error([&] { d.require_sequence("x.bin", 10, true); },
               "data 'x.bin': the validation split has 10 tokens, fewer than one sequence of 10");
  EXPECT_NO_THROW(d.require_sequence("x.bin", 10, false));
  EXPECT_NO_THROW(d.require_sequence("x.bin", 89, false));
  expect_error([&] { d.require_sequence("x.bin", 90, false); },
               "data 'x.bin': the training split has 90 tokens, fewer than one sequence of 90");
}

TEST_F(Robust, KilledWriterLeavesTheOldFileWhole) {
  write_file_atomic(path("out.bin"), std::string("old"));
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    AtomicFile f(path("out.bin"));
    f.write(std::string(3 << 20, 'x'));  // past the buffer: bytes reach the temporary
    ::raise(SIGKILL);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_EQ(read_all(path("out.bin")), "old");
  // SIGKILL gives no chance to clean up: the temporary stays, under a name no reader opens.
  const auto names = listing();
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[1].rfind("out.bin.tmp." + std::to_string(child) + ".", 0), 0u) << names[1];
}

TEST_F(Robust, TerminatedWriterRemovesItsTemporary) {
  write_file_atomic(path("out.bin"), std::string("old"));
  for (const int sig : {SIGTERM, SIGINT}) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      AtomicFile f(path("out.bin"));
      f.write(std::string(3 << 20, 'x'));
      ::raise(sig);
      ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << "status " << status;
    EXPECT_EQ(read_all(path("out.bin")), "old");
    EXPECT_EQ(listing(), std::vector<std::string>{"out.bin"}) << "signal " << sig;
  }
}

TEST_F(Robust, ConcurrentWritersLeaveOneWholeFile) {
  const std::string a(1 << 21, 'a'), b(3 << 20, 'b');
  for (int round = 0; round < 10; ++round) {
    std::thread ta([&] { write_file_atomic(path("same.bin"), a); });
    std::thread tb([&] { write_file_atomic(path("same.bin"), b); });
    ta.join();
    tb.join();
    const std::string got = read_all(path("same.bin"));
    EXPECT_TRUE(got == a || got == b) << "round " << round << ": " << got.size() << " bytes";
  }
  EXPECT_EQ(listing(), std::vector<std::string>{"same.bin"});
}

// --- the meta device at full size ---------------------------------------------------------

// Peak resident memory since the last reset, in bytes; 0 when the kernel cannot tell.
std::uint64_t peak_rss() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

TEST(RobustMeta, LargestBundledModelNeedsNoRealMemory) {
  std::ofstream clear("/proc/self/clear_refs");
  if (!(clear << "5" << std::flush) || peak_rss() == 0)
    GTEST_SKIP() << "cannot reset the peak RSS through /proc/self/clear_refs";
  const std::uint64_t before = peak_rss();
  const ModelConfig c = load_config("gpt2-1558m");
  const ParamReport r = make_param_report(c);
  EXPECT_EQ(r.total, 1557611200);
  MemoryQuery q;
  q.seq = 1024;
  const MemoryResult train = simulate_memory(c, q);
  q.mode = MemoryMode::infer;
  q.optimizer = OptimizerKind::none;
  const MemoryResult infer = simulate_memory(c, q);
  EXPECT_GT(train.peak, 4 * 1557611200ull * 4);  // parameters, gradients, m and v in f32
  EXPECT_GT(infer.peak, 1557611200ull * 4);
  // 6 GiB of f32 parameters alone if anything were real; bookkeeping is a few MiB.
  const std::uint64_t grown = peak_rss() - before;
  EXPECT_LT(grown, 256ull << 20) << grown << " bytes of peak RSS";
}

// --- the fuzz targets' inputs, replayed in the normal build --------------------------------

// Runs `check` on every file of fuzz/corpus/<target>/ (the seeds) and tests/data/fuzz/<target>/
// (inputs that once failed, kept as regression tests).
void replay(const std::string& target, const std::function<void(const std::string&)>& check) {
  int files = 0;
  for (const fs::path& dir :
       {kSource / "fuzz/corpus" / target, kSource / "tests/data/fuzz" / target}) {
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (!e.is_regular_file()) continue;
      ++files;
      try {
        check(e.path().string());
      } catch (const std::exception& ex) {
        ADD_FAILURE() << e.path() << ": " << ex.what();
      }
    }
  }
  EXPECT_GT(files, 0) << "no inputs for " << target;
}

TEST(FuzzReplay, Config) {
  replay("config", [](const std::string& p) {
    const std::string text = read_all(p);
    fuzz::check_config(text, false);
    fuzz::check_config(text, true);
  });
}

TEST(FuzzReplay, Safetensors) {
  replay("safetensors", [](const std::string& p) { fuzz::check_safetensors_file(p); });
}

TEST(FuzzReplay, Npy) {
  replay("npy", [](const std::string& p) { fuzz::check_npy_file(p); });
}

TEST(FuzzReplay, Tokenizer) {
  replay("tokenizer", [](const std::string& p) {
    const std::string bytes = read_all(p);
    fuzz::check_tokenizers(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  });
}

TEST(FuzzReplay, Manifest) {
  replay("manifest", [](const std::string& p) { fuzz::check_manifest(read_all(p)); });
}

TEST(FuzzReplay, Options) {
  replay("options", [](const std::string& p) { fuzz::check_option_text(read_all(p)); });
}

TEST(FuzzReplay, Dataset) {
  replay("dataset", [](const std::string& p) {
    const std::string bytes = read_all(p);
    fuzz::check_dataset_bytes(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  });
}

}  // namespace
}  // namespace cugpt
