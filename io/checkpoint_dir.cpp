#include "io/checkpoint_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "io/input_file.h"
#include "io/numbers.h"
#include "io/printable.h"
#include "kernels/error.h"

namespace cugpt {

namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kFormat = "cugpt-checkpoint";
constexpr const char* kManifest = "manifest.json";
constexpr const char* kTempPrefix = ".step-";
// In every step directory cugpt writes: a step directory no manifest lists yet (a save
// interrupted between its rename and the manifest's commit) is known as cugpt's by it.
constexpr const char* kStepMarker = ".cugpt-step";
// A manifest lists a few files; anything larger is not one.
constexpr std::uint64_t kMaxManifestBytes = 1 << 20;
// Steps are exact in a JSON number (a double) up to 2^53.
constexpr std::int64_t kMaxStep = std::int64_t{1} << 53;

std::atomic<unsigned> g_counter{0};

bool plain_name(const std::string& s) {
  if (s.empty() || s.size() > 200 || s[0] == '.') return false;
  for (const char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
      return false;
  return true;
}

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

void sync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

std::string file_checksum(const std::string& what, const std::string& path, std::uint64_t& bytes) {
  return hex64(file_fnv1a64(what, path, &bytes));
}

bool digits(const std::string& s, std::size_t from, std::size_t to) {
  if (from >= to || to > s.size()) return false;
  for (std::size_t i = from; i < to; ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

bool hex16(const std::string& s) {
  return s.size() == 16 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// "<base>.tmp.<pid>" (links) or "<base>.tmp.<pid>.<n>" (AtomicFile) with a plain base.
bool temp_of(const std::string& name, const std::string& base, bool counter) {
  const std::string head = base + ".tmp.";
  if (!starts_with(name, head)) return false;
  const std::size_t dot = name.find('.', head.size());
  if (!counter) return dot == std::string::npos && digits(name, head.size(), name.size());
  return dot != std::string::npos && digits(name, head.size(), dot) &&
         digits(name, dot + 1, name.size());
}

// ".step-<N>.tmp.<pid>.<n>": an interrupted save's hidden directory.
bool hidden_step_temp(const std::string& name) {
  if (!starts_with(name, kTempPrefix)) return false;
  const std::size_t dot = name.find('.', 1);
  return dot != std::string::npos && digits(name, 6, dot) &&
         temp_of(name, name.substr(0, dot), true);
}

bool step_name(const std::string& name) {
  return starts_with(name, "step-") && plain_name(name);
}

// The files a step directory of cugpt's holds: the marker, .safetensors files and AtomicFile's
// temporaries of them.
bool checkpoint_file_name(const std::string& name) {
  if (name == kStepMarker) return true;
  const std::size_t at = name.find(".safetensors");
  if (at == std::string::npos || at == 0) return false;
  const std::string base = name.substr(0, at + 12);
  return name == base || temp_of(name, base, true);
}

// Removes a step directory of cugpt's: the files cugpt writes there by name, then the directory
// if that emptied it. Whatever else someone put there stays (and so does the directory).
void remove_step_directory(const std::string& path) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(path, ec)) {
    const std::string name = e.path().filename().string();
    if (name != kStepMarker && checkpoint_file_name(name) && e.is_regular_file(ec) &&
        !e.is_symlink(ec))
      fs::remove(e.path(), ec);
  }
  // The marker last: a directory half removed (seen by another writer's scan) is still cugpt's.
  if (::rmdir(path.c_str()) != 0 && ::unlink((path + "/" + kStepMarker).c_str()) == 0)
    ::rmdir(path.c_str());
}

// A step directory no manifest lists that an interrupted save or removal left: cugpt's marker
// and nothing but cugpt's files, or nothing at all (remove_step_directory killed between the
// marker's unlink and the rmdir: an empty directory holds nothing anyone could lose).
bool interrupted_save(const std::string& path) {
  std::error_code ec;
  bool marked = false, empty = true;
  for (const auto& e : fs::directory_iterator(path, ec)) {
    const std::string name = e.path().filename().string();
    if (!checkpoint_file_name(name) || e.is_symlink(ec) || !e.is_regular_file(ec)) return false;
    marked = marked || name == kStepMarker;
    empty = false;
  }
  return !ec && (marked || empty);
}

// A convenience link: DIR/<name> -> step-.../<name>.
bool checkpoint_link(const std::string& name, const std::string& path) {
  std::error_code ec;
  const std::string target = fs::read_symlink(path, ec).string();
  const std::size_t slash = target.find('/');
  return !ec && slash != std::string::npos && step_name(target.substr(0, slash)) &&
         target.substr(slash + 1) == name;
}

// What a foreign entry is, for the refusal: "step-1/ (with precious.txt)", "notes.txt".
std::string describe_entry(const fs::directory_entry& e) {
  std::error_code ec;
  const std::string name = printable(e.path().filename().string(), 60);
  if (e.is_symlink(ec)) return name + " (a symbolic link)";
  if (!e.is_directory(ec)) return name;
  std::string inside;
  int shown = 0, more = 0;
  for (const auto& f : fs::directory_iterator(e.path(), ec))
    if (shown < 2)
      inside += (shown++ ? ", " : "") + printable(f.path().filename().string(), 60);
    else
      ++more;
  if (more) inside += " and " + std::to_string(more) + " more";
  return name + "/" + (inside.empty() ? "" : " (with " + inside + ")");
}

}  // namespace

CheckpointManifest parse_manifest(const std::string& text, const std::string& where) {
  const auto fail = [&](const std::string& why) -> void { throw Error(where + ": " + why); };
  // nlohmann keeps the last of two equal keys silently: which "step" counts is no choice to
  // make for the user, and cugpt never writes a key twice. The keys of each open object:
  std::vector<std::set<std::string>> open;
  std::string duplicate;
  bool top_level = false;
  const auto callback = [&](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) {
      open.emplace_back();
    } else if (event == Json::parse_event_t::object_end) {
      if (!open.empty()) open.pop_back();
    } else if (event == Json::parse_event_t::key && duplicate.empty() && !open.empty() &&
               !open.back().insert(parsed.get<std::string>()).second) {
      duplicate = parsed.get<std::string>();
      top_level = open.size() == 1;
    }
    return true;
  };
  Json j;
  try {
    j = Json::parse(text, callback);
  } catch (const Json::exception& e) {
    // The parser's byte position, not its internal error code and message.
    const auto* pe = dynamic_cast<const Json::parse_error*>(&e);
    fail("invalid JSON" + (pe ? " at byte " + std::to_string(pe->byte) : std::string()));
  }
  if (!j.is_object()) fail("expected a JSON object");
  if (!duplicate.empty())
    fail((top_level ? "field '" : "key '") + printable(duplicate, 60) +
         (top_level ? "' appears twice" : "' appears twice in one object"));
  const auto field = [&](const char* name) -> const Json& {
    const auto it = j.find(name);
    if (it == j.end()) fail(std::string("missing field '") + name + "'");
    return *it;
  };
  const Json& format = field("format");
  if (!format.is_string() || format.get<std::string>() != kFormat)
    fail(std::string("field 'format' is not \"") + kFormat + "\"");
  const Json& version = field("version");
  if (!version.is_number_integer() || version.get<std::int64_t>() != 1)
    fail("field 'version' is not 1 (written by a newer cugpt?)");
  CheckpointManifest m;
  const Json& step = field("step");
  if (!step.is_number_integer()) fail("field 'step' must be an integer");
  if (step.is_number_unsigned() ? step.get<std::uint64_t>() > kMaxStep
                                : (step.get<std::int64_t>() < 0))
    fail("field 'step' = " + step.dump() + " is out of range " + int_range(0, kMaxStep));
  m.step = step.get<std::int64_t>();
  const Json& dir = field("directory");
  if (!dir.is_string() || !plain_name(dir.get<std::string>()))
    fail("field 'directory' must be a plain directory name (no '/', not hidden)");
  m.directory = dir.get<std::string>();
  const auto previous = j.find("previous");
  if (previous != j.end()) {
    if (!previous->is_string() || !plain_name(previous->get<std::string>()))
      fail("field 'previous' must be a plain directory name (no '/', not hidden)");
    m.previous = previous->get<std::string>();
  }
  const auto kept = j.find("kept");
  if (kept != j.end()) {
    if (!kept->is_array() || kept->size() > 1000)
      fail("field 'kept' must be a list of directories");
    for (const Json& k : *kept) {
      if (!k.is_string() || !plain_name(k.get<std::string>()))
        fail("field 'kept' must list plain directory names (no '/', not hidden)");
      m.kept.push_back(k.get<std::string>());
    }
  }
  const Json& files = field("files");
  if (!files.is_object() || files.empty()) fail("field 'files' must be a non-empty object");
  for (auto it = files.begin(); it != files.end(); ++it) {
    const std::string name = printable(it.key(), 60);
    if (!plain_name(it.key())) fail("file '" + name + "' is not a plain file name");
    const Json& f = it.value();
    if (!f.is_object()) fail("file '" + name + "' must be an object");
    const auto bytes = f.find("bytes");
    const auto sum = f.find("fnv1a64");
    if (bytes == f.end() || !bytes->is_number_unsigned())
      fail("file '" + name + "': 'bytes' must be an integer >= 0");
    if (sum == f.end() || !sum->is_string() || sum->get<std::string>().size() != 16 ||
        sum->get<std::string>().find_first_not_of("0123456789abcdef") != std::string::npos)
      fail("file '" + name + "': 'fnv1a64' must be 16 lowercase hex digits");
    ManifestFile mf;
    mf.name = it.key();
    mf.bytes = bytes->get<std::uint64_t>();
    mf.fnv1a64 = std::strtoull(sum->get<std::string>().c_str(), nullptr, 16);
    m.files.push_back(mf);
  }
  const auto run = j.find("run");
  if (run != j.end()) {
    if (!run->is_string() || !hex16(run->get<std::string>()))
      fail("field 'run' must be 16 lowercase hex digits");
    m.run = run->get<std::string>();
  }
  const auto meta = j.find("metadata");
  if (meta != j.end()) {
    if (!meta->is_object()) fail("field 'metadata' must be an object");
    for (auto it = meta->begin(); it != meta->end(); ++it) {
      if (!it.value().is_string())
        fail("metadata '" + printable(it.key(), 60) + "' must be a string");
      m.metadata[it.key()] = it.value().get<std::string>();
    }
  }
  return m;
}

std::string manifest_text(const CheckpointManifest& m) {
  Json files = Json::object();
  for (const ManifestFile& f : m.files)
    files[f.name] = {{"bytes", f.bytes}, {"fnv1a64", hex64(f.fnv1a64)}};
  Json meta = Json::object();
  for (const auto& [k, v] : m.metadata) meta[k] = v;
  Json j = {{"format", kFormat},        {"version", 1},   {"step", m.step},
            {"directory", m.directory}, {"files", files}, {"metadata", meta}};
  if (!m.previous.empty()) j["previous"] = m.previous;
  if (!m.kept.empty()) j["kept"] = m.kept;
  if (!m.run.empty()) j["run"] = m.run;
  return j.dump(2) + "\n";
}

std::string new_run_id() {
  std::random_device device;
  const std::uint64_t high = device(), low = device();
  return hex64(high << 32 | (low & 0xffffffffu));
}

namespace {
CheckpointManifest read_manifest(const std::string& dir) {
  const std::string where = "checkpoint '" + printable(dir) + "'";
  const std::string manifest_path = dir + "/" + kManifest;
  std::error_code ec;
  if (!fs::exists(manifest_path, ec)) {
    if (fs::exists(dir + "/model.safetensors", ec))
      throw Error(where +
                  ": no manifest.json (a checkpoint from before checkpoints were "
                  "written as one unit: its model and optimizer files may not match)");
    if (!fs::is_directory(dir, ec)) throw Error(where + ": no such checkpoint directory");
    throw Error(where + ": no manifest.json (not a `cugpt train --out` directory)");
  }
  const std::string text =
      read_regular_file(where + ": manifest", manifest_path, kMaxManifestBytes);
  return parse_manifest(text, where + ": manifest.json");
}
}  // namespace

namespace {

// What a checkpoint directory holds: cugpt's manifest (if any), leftovers of interrupted saves,
// and what cugpt did not write.
struct Contents {
  CheckpointManifest manifest;
  bool have_manifest = false;
  std::set<std::string> listed;  // the step directories the manifest lists
  std::vector<std::string> foreign;
  std::vector<fs::path> leftovers, interrupted;
  std::string error;  // the directory could not be listed
};

Contents scan_contents(const std::string& dir) {
  Contents c;
  // The manifest, if any: cugpt's (it parses), or something cugpt must not replace.
  const std::string manifest_path = dir + "/" + kManifest;
  struct stat st {};
  if (::lstat(manifest_path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      c.foreign.push_back(std::string(kManifest) + " (not a regular file)");
    } else {
      try {
        c.manifest = parse_manifest(read_regular_file(kManifest, manifest_path, kMaxManifestBytes),
                                    kManifest);
        c.have_manifest = true;
      } catch (const Error& e) {
        c.foreign.push_back(std::string(kManifest) +
                            " (not a cugpt checkpoint's: " + one_line(e.what()) + ")");
      }
    }
  }
  if (c.have_manifest) {
    c.listed = {c.manifest.directory, c.manifest.previous};
    c.listed.insert(c.manifest.kept.begin(), c.manifest.kept.end());
  }
  // Everything else is a part of a checkpoint, a leftover of an interrupted save, or foreign.
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const bool link = e.is_symlink(ec);
    const bool directory = !link && e.is_directory(ec);
    const bool regular = !link && e.is_regular_file(ec);
    const std::size_t tmp = name.find(".tmp.");
    if (name == kManifest || (name == ".lock" && regular)) continue;
    if (directory && step_name(name) && c.listed.count(name)) continue;
    if (link && checkpoint_link(name, e.path().string())) continue;
    if ((directory && hidden_step_temp(name)) || (regular && temp_of(name, kManifest, true)) ||
        (link && tmp != std::string::npos && temp_of(name, name.substr(0, tmp), false) &&
         checkpoint_link(name.substr(0, tmp), e.path().string())))
      c.leftovers.push_back(e.path());
    else if (directory && step_name(name) && interrupted_save(e.path().string()))
      c.interrupted.push_back(e.path());
    else
      c.foreign.push_back(describe_entry(e));
  }
  if (ec) c.error = ec.message();
  std::sort(c.foreign.begin(), c.foreign.end());
  return c;
}

[[noreturn]] void refuse_foreign(const std::string& where,
                                 const std::vector<std::string>& foreign) {
  std::string list;
  for (std::size_t i = 0; i < foreign.size() && i < 3; ++i) list += (i ? "; " : "") + foreign[i];
  if (foreign.size() > 3) list += "; and " + std::to_string(foreign.size() - 3) + " more";
  throw Error(where + " holds what cugpt did not write: " + list +
              ". cugpt never deletes or replaces it: give an empty or new --out, or move it away");
}

}  // namespace

CheckpointDir::CheckpointDir(const std::string& dir, int keep_count)
    : CheckpointDir(dir, CheckpointDirOptions{keep_count, "", false}) {}

CheckpointDir::CheckpointDir(const std::string& dir, const CheckpointDirOptions& options)
    : dir_(dir), keep_(options.keep) {
  const std::string where = "checkpoint directory '" + printable(dir) + "'";
  if (options.keep < 2)
    throw Error(where + ": at least 2 checkpoints are kept (the new and the previous)");
  if (!options.run.empty() && !hex16(options.run))
    throw Error(where + ": a run id is 16 lowercase hex digits, not '" +
                printable(options.run, 60) + "'");
  std::error_code ec;
  // What cugpt did not write is refused before anything is added (the lock file included); the
  // scan is repeated under the lock, which decides.
  if (fs::is_directory(dir, ec)) {
    const Contents before = scan_contents(dir);
    if (!before.foreign.empty()) refuse_foreign(where, before.foreign);
  }
  fs::create_directories(dir, ec);
  if (ec) throw Error(where + ": cannot create: " + ec.message());
  if (!fs::is_directory(dir, ec)) throw Error(where + ": is not a directory");
  const std::string lock = dir + "/.lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0666);
  if (lock_fd_ < 0) throw Error(where + ": cannot open .lock: " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (err == EWOULDBLOCK)
      throw Error(where + " is in use by another cugpt process (it holds " + printable(lock) + ")");
    throw Error(where + ": cannot lock .lock: " + std::strerror(err));
  }
  // Only with the lock held: nobody else writes here meanwhile. A refusal lets the lock go (the
  // destructor does not run for a constructor that throws).
  try {
    check_contents(options);
  } catch (...) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw;
  }
}

void CheckpointDir::check_contents(const CheckpointDirOptions& options) {
  const std::string where = "checkpoint directory '" + printable(dir_) + "'";
  const Contents c = scan_contents(dir_);
  if (!c.error.empty()) throw Error(where + ": cannot list: " + c.error);
  if (!c.foreign.empty()) refuse_foreign(where, c.foreign);
  const CheckpointManifest& m = c.manifest;
  // Another run's checkpoint: continued only by --resume, replaced only when asked to.
  const bool same_run = options.run.empty() || (c.have_manifest && m.run == options.run);
  if (c.have_manifest && !same_run && !options.overwrite)
    throw Error(where + " holds the checkpoint of another run (step " + std::to_string(m.step) +
                ", " + m.directory + "/): continue it with --resume " + printable(dir_) +
                ", give another --out, or replace its checkpoints with --overwrite");
  run_ = !options.run.empty() ? options.run : !m.run.empty() ? m.run : new_run_id();
  if (c.have_manifest && !same_run) {
    replacing_ = true;
    replaced_.assign(c.listed.begin(), c.listed.end());
  }
  // Interrupted saves, which only a writer holding the lock can have left.
  std::error_code ec;
  for (const fs::path& p : c.leftovers) fs::remove_all(p, ec);
  for (const fs::path& p : c.interrupted) remove_step_directory(p.string());
}

CheckpointDir::~CheckpointDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // closing releases the flock
}

void CheckpointDir::publish(std::int64_t step,
                            const std::vector<std::pair<std::string, Writer>>& files,
                            const std::map<std::string, std::string>& metadata) {
  check_int("checkpoint step", step, 0, kMaxStep);
  const std::string where = "checkpoint directory '" + printable(dir_) + "'";
  // The manifest in place now names the previous complete checkpoint: kept until the new one is
  // committed, and after.
  std::string previous;
  std::vector<std::string> kept;
  // The step directories the manifest in place lists: the only ones a save may remove.
  std::set<std::string> listed(replaced_.begin(), replaced_.end());
  // Replacing another run's checkpoint, none of its step directories is this run's previous.
  if (!replacing_) try {
      const CheckpointManifest old = read_manifest(dir_);
      listed = {old.directory, old.previous};
      listed.insert(old.kept.begin(), old.kept.end());
      previous = old.directory;
      // What was kept before, newest first, shifted by one: the new checkpoint takes a place.
      if (!old.previous.empty()) kept.push_back(old.previous);
      kept.insert(kept.end(), old.kept.begin(), old.kept.end());
      kept.resize(std::min<std::size_t>(kept.size(), static_cast<std::size_t>(keep_ - 2)));
    } catch (const Error&) {
    }
  const std::string temp = dir_ + "/" + kTempPrefix + std::to_string(step) + ".tmp." +
                           std::to_string(::getpid()) + "." + std::to_string(g_counter++);
  if (::mkdir(temp.c_str(), 0777) != 0)
    throw Error(where + ": cannot create '" + printable(temp) + "': " + std::strerror(errno));
  std::error_code ec;
  CheckpointManifest m;
  m.step = step;
  m.run = run_;
  m.metadata = metadata;
  m.previous = previous;
  m.kept = kept;
  try {
    // The marker first: a step directory from here on is recognisably cugpt's.
    write_file_atomic(temp + "/" + kStepMarker,
                      "cugpt-checkpoint step " + std::to_string(step) + " run " + run_ + "\n");
    for (const auto& [name, write] : files) {
      if (!plain_name(name)) throw Error(where + ": bad file name '" + printable(name) + "'");
      const FileDigest d = write(temp + "/" + name);
      m.files.push_back({name, d.bytes, d.fnv1a64});
    }
    sync_path(temp);
    // A step saved twice (a resumed run that saves the step it resumed at) gets a new name: the
    // directory the current manifest names is never touched.
    std::string name = "step-" + std::to_string(step);
    for (int k = 1; fs::exists(dir_ + "/" + name, ec); ++k)
      name = "step-" + std::to_string(step) + "-" + std::to_string(k);
    if (std::rename(temp.c_str(), (dir_ + "/" + name).c_str()) != 0)
      throw Error(where + ": cannot rename '" + printable(temp) + "': " + std::strerror(errno));
    m.directory = name;
    sync_path(dir_);
  } catch (...) {
    fs::remove_all(temp, ec);
    throw;
  }
  // The commit: one rename of the new manifest over the old one (AtomicFile fsyncs both).
  write_file_atomic(dir_ + "/" + kManifest, manifest_text(m));
  replacing_ = false;
  replaced_.clear();

  // Convenience links DIR/<name> -> step-N/<name>, for `--weights DIR/model.safetensors`.
  // Replaced by a rename too; a failure here leaves an older link, never a bad checkpoint.
  for (const ManifestFile& f : m.files) {
    const std::string link = dir_ + "/" + f.name;
    struct stat st {};
    // Only a link is replaced: a file someone put there meanwhile stays.
    if (::lstat(link.c_str(), &st) == 0 && !S_ISLNK(st.st_mode)) continue;
    const std::string temp_link = link + ".tmp." + std::to_string(::getpid());
    ::unlink(temp_link.c_str());
    if (::symlink((m.directory + "/" + f.name).c_str(), temp_link.c_str()) != 0) continue;
    if (std::rename(temp_link.c_str(), link.c_str()) != 0) ::unlink(temp_link.c_str());
  }
  // Older step directories go: the new one, the previous complete one and the kept ones stay.
  // Only those the replaced manifest listed, and in them only cugpt's files.
  std::set<std::string> stay(kept.begin(), kept.end());
  stay.insert({m.directory, previous});
  for (const std::string& n : listed) {
    struct stat sd {};
    const std::string p = dir_ + "/" + n;
    if (!n.empty() && !stay.count(n) && ::lstat(p.c_str(), &sd) == 0 && S_ISDIR(sd.st_mode))
      remove_step_directory(p);
  }
  sync_path(dir_);
}

CheckpointManifest read_checkpoint_manifest(const std::string& dir) {
  return read_manifest(dir);
}

CheckpointManifest verify_checkpoint(const std::string& dir) {
  const std::string where = "checkpoint '" + printable(dir) + "'";
  CheckpointManifest m = read_manifest(dir);
  std::error_code ec;
  for (const ManifestFile& f : m.files) {
    const std::string rel = m.directory + "/" + f.name;
    const std::string path = dir + "/" + rel;
    if (!fs::exists(path, ec)) throw Error(where + ": " + printable(rel) + " is missing");
    std::uint64_t bytes = 0;
    const std::string sum = file_checksum(where + ": file", path, bytes);
    if (bytes != f.bytes)
      throw Error(where + ": " + printable(rel) + " is " + std::to_string(bytes) +
                  " bytes, the manifest says " + std::to_string(f.bytes) + " (torn or replaced)");
    if (sum != hex64(f.fnv1a64))
      throw Error(where + ": " + printable(rel) + " does not match its checksum in the manifest " +
                  "(torn, mixed with another run's, or corrupt)");
  }
  return m;
}

}  // namespace cugpt
