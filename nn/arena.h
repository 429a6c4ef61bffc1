// The arena: every byte a device tensor uses comes from here. One reservation per device (one
// cudaMalloc on CUDA, one lazily-committed mapping on cpu, nothing at all on meta), carved into
// blocks with 256-byte alignment. Persistent categories (parameters, gradients, optimizer states,
// master weights) are placed first-fit from the low end, transient ones (activations, KV cache,
// workspace) best-fit from the high end, so that a training step's churn never fragments the
// model's memory; a transient that outlives the churn around it (a recompute checkpoint) may ask
// for the low end too (Placement::low). Free blocks coalesce with their neighbours. Statistics are
// exact: the same sequence of requests gives the same numbers on meta, cpu and cuda.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "nn/device.h"

namespace cugpt {

enum class Category : std::uint8_t {
  parameter,
  gradient,
  optimizer_state,
  master_weight,
  activation,
  kv_cache,
  workspace,
};
constexpr int kNumCategories = 7;
using CategoryBytes = std::array<std::uint64_t, kNumCategories>;

const char* category_name(Category c);
Category parse_category(const std::string& name);
// Parameters, gradients, optimizer states and master weights live as long as the model.
constexpr bool is_persistent(Category c) {
  return static_cast<int>(c) < 4;
}
// Where a block goes: by its category (persistent low, transient high), or low whatever it is.
enum class Placement { by_category, low };
constexpr Category category_at(int i) {
  return static_cast<Category>(i);
}

constexpr std::uint64_t kArenaAlignment = 256;
constexpr std::uint64_t align_up(std::uint64_t n) {
  return (n + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
}

// A block handed out by the arena. size is the aligned size actually reserved.
struct Block {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  Category category = Category::workspace;
};

struct ArenaStats {
  std::uint64_t budget = 0;
  std::uint64_t in_use = 0;
  std::uint64_t peak = 0;
  CategoryBytes current{};           // bytes in use now, per category
  CategoryBytes peak_by_category{};  // each category's own maximum
  CategoryBytes at_peak{};           // per category at the moment `peak` was reached
  std::string peak_tag;              // the arena's tag at that moment (the operation running)
  std::size_t live_blocks = 0;
  std::size_t free_blocks = 0;
  std::uint64_t largest_free = 0;
  std::uint64_t allocations = 0;  // count since creation
};

struct TimelineEvent {
  enum class Kind : std::uint8_t { alloc, free };
  Kind kind;
  Category category;
  std::uint64_t bytes;   // aligned block size
  std::uint64_t in_use;  // total bytes in use after the event
  std::string tag;
};

// Thrown when a request cannot be placed. The message names the request, the budget, the bytes
// in use per category and the largest free block; the arena is unchanged and still usable.
class OutOfMemory : public Error {
 public:
  OutOfMemory(const std::string& what, std::uint64_t requested, Category category, ArenaStats stats,
              std::string tag = "")
      : Error(what),
        requested_(requested),
        category_(category),
        stats_(std::move(stats)),
        tag_(std::move(tag)) {}
  std::uint64_t requested() const { return requested_; }
  Category category() const { return category_; }
  const ArenaStats& stats() const { return stats_; }
  // The arena's tag when it ran out: the operation that asked.
  const std::string& tag() const { return tag_; }

 private:
  std::uint64_t requested_;
  Category category_;
  ArenaStats stats_;
  std::string tag_;
};

class Arena {
 public:
  // Reserves `budget` bytes (rounded down to the alignment) on `device`.
  Arena(Device device, std::uint64_t budget);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  static std::shared_ptr<Arena> create(Device device, std::uint64_t budget) {
    return std::make_shared<Arena>(device, budget);
  }

  // A zero-byte request returns an empty block that uses no memory.
  Block allocate(std::uint64_t bytes, Category category,
                 Placement placement = Placement::by_category);
  // Throws cugpt::Error for a block this arena did not hand out (or already freed).
  void free(const Block& block);

  // Host or device address of a block; nullptr on meta.
  void* address(const Block& block) const;

  const Device& device() const { return device_; }
  std::uint64_t budget() const { return budget_; }
  ArenaStats stats() const;
  std::uint64_t in_use() const;
  std::uint64_t current(Category c) const;
  void reset_peak();

  // The tag names the operation now running; it is stored with the peak and the timeline.
  void set_tag(std::string tag);
  std::string tag() const;

  void record_timeline(bool on);
  // Memory that must stay where a stretch of work put it after the work's tensors are gone (a
  // CUDA graph replays at the addresses it was captured with, models/decode_step.h):
  // log_placements(true) starts a list of every block allocated from then on (clearing the last
  // one), false stops it; claim takes [offset, offset + bytes) for `category`, which must be
  // free (an Error otherwise), with the same accounting as allocate.
  void log_placements(bool on);
  std::vector<Block> placements() const;
  Block claim(std::uint64_t offset, std::uint64_t bytes, Category category);
  std::vector<TimelineEvent> timeline() const;
  void clear_timeline();

 private:
  struct Node {
    std::uint64_t size;
    bool free;
    Category category;
  };
  using NodeMap = std::map<std::uint64_t, Node>;

  std::string oom_message(std::uint64_t requested, Category category) const;
  ArenaStats stats_locked() const;
  void insert_free(std::uint64_t offset, std::uint64_t size);
  void erase_free(std::uint64_t offset, std::uint64_t size);
  void record(TimelineEvent::Kind kind, Category c, std::uint64_t bytes);
  // The statistics, timeline and placement log of a block just put in nodes_ (lock held).
  Block placed(const Block& b);

  Device device_;
  std::uint64_t budget_ = 0;
  void* base_ = nullptr;

  mutable std::mutex mu_;
  NodeMap nodes_;  // every block, free or used, by offset; they tile [0, budget)
  std::set<std::pair<std::uint64_t, std::uint64_t>> free_by_size_;  // (size, offset)
  std::map<std::uint64_t, std::uint64_t> free_by_offset_;           // offset -> size

  std::uint64_t in_use_ = 0;
  std::uint64_t peak_ = 0;
  CategoryBytes current_{};
  CategoryBytes peak_by_category_{};
  CategoryBytes at_peak_{};
  std::string peak_tag_;
  std::size_t live_blocks_ = 0;
  std::uint64_t allocations_ = 0;
  std::string tag_;
  bool recording_ = false;
  std::vector<TimelineEvent> timeline_;
  bool logging_placements_ = false;
  std::vector<Block> placement_log_;
};

// Sets the arena's tag for a scope and restores the previous one.
class ArenaTag {
 public:
  ArenaTag(Arena& arena, std::string tag) : arena_(arena), previous_(arena.tag()) {
    arena_.set_tag(std::move(tag));
  }
  ~ArenaTag() { arena_.set_tag(std::move(previous_)); }
  ArenaTag(const ArenaTag&) = delete;
  ArenaTag& operator=(const ArenaTag&) = delete;

 private:
  Arena& arena_;
  std::string previous_;
};

// The budget used when none is given: on cuda the free memory less the named reserve for the
// CUDA context's later growth and cuBLAS workspaces; on cpu three quarters of physical memory;
// on meta the reference card's 4 GiB.
std::uint64_t default_budget(Device device);
// Memory a real card loses outside the arena: cuBLAS/cuBLASLt workspaces and library state.
constexpr std::uint64_t kDefaultCudaReserve = 256ull << 20;

}  // namespace cugpt
