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

}  // namespace

CheckpointManifest parse_manifest(const std::string& text, const std::string& where) {
  const auto fail = [&](const std::string& why) -> void { throw Error(where + ": " + why); };
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::exception& e) {
    // The parser's byte position, not its internal error code and message.
    const auto* pe = dynamic_cast<const Json::parse_error*>(&e);
    fail("invalid JSON" + (pe ? " at byte " + std::to_string(pe->byte) : std::string()));
  }
  if (!j.is_object()) fail("expected a JSON object");
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
  return j.dump(2) + "\n";
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

CheckpointDir::CheckpointDir(const std::string& dir, int keep_count)
    : dir_(dir), keep_(keep_count) {
  const std::string where = "checkpoint directory '" + printable(dir) + "'";
  if (keep_count < 2)
    throw Error(where + ": at least 2 checkpoints are kept (the new and the previous)");
  std::error_code ec;
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
  // Hidden step directories are interrupted writes (kill -9, a full disk), and so are step
  // directories the manifest does not name: nobody else writes here while we hold the lock.
  std::set<std::string> keep;
  try {
    const CheckpointManifest m = read_manifest(dir);
    keep = {m.directory, m.previous};
    keep.insert(m.kept.begin(), m.kept.end());
  } catch (const Error&) {
    keep = {};  // no (valid) manifest: remove only the hidden ones
  }
  const bool have_manifest = !keep.empty();
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const bool stale_step = have_manifest && name.rfind("step-", 0) == 0 && !keep.count(name) &&
                            e.is_directory(ec) && !e.is_symlink(ec);
    if (name.rfind(kTempPrefix, 0) == 0 || stale_step) fs::remove_all(e.path(), ec);
  }
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
  try {
    const CheckpointManifest old = read_manifest(dir_);
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
  m.metadata = metadata;
  m.previous = previous;
  m.kept = kept;
  try {
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

  // Convenience links DIR/<name> -> step-N/<name>, for `--weights DIR/model.safetensors`.
  // Replaced by a rename too; a failure here leaves an older link, never a bad checkpoint.
  for (const ManifestFile& f : m.files) {
    const std::string link = dir_ + "/" + f.name;
    struct stat st {};
    if (::lstat(link.c_str(), &st) == 0 && !S_ISLNK(st.st_mode) && !S_ISREG(st.st_mode)) continue;
    const std::string temp_link = link + ".tmp." + std::to_string(::getpid());
    ::unlink(temp_link.c_str());
    if (::symlink((m.directory + "/" + f.name).c_str(), temp_link.c_str()) != 0) continue;
    if (std::rename(temp_link.c_str(), link.c_str()) != 0) ::unlink(temp_link.c_str());
  }
  // Older step directories go: the new one, the previous complete one and the kept ones stay.
  std::set<std::string> stay(kept.begin(), kept.end());
  stay.insert({m.directory, previous});
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("step-", 0) == 0 && !stay.count(n) && e.is_directory(ec))
      fs::remove_all(e.path(), ec);
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
