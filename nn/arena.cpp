#include "nn/arena.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "kernels/runtime.h"
#include "nn/bytes.h"

namespace cugpt {

namespace {
constexpr std::array<const char*, kNumCategories> kCategoryNames = {
    "parameter",  "gradient", "optimizer_state", "master_weight",
    "activation", "kv_cache", "workspace"};
}  // namespace

const char* category_name(Category c) {
  return kCategoryNames[static_cast<int>(c)];
}

Category parse_category(const std::string& name) {
  for (int i = 0; i < kNumCategories; ++i)
    if (name == kCategoryNames[i]) return category_at(i);
  throw Error("unknown memory category '" + name + "'");
}

Arena::Arena(Device device, std::uint64_t budget)
    : device_(device), budget_(budget / kArenaAlignment * kArenaAlignment) {
  if (budget_ == 0) throw Error("arena on " + device_.str() + ": budget must be at least 256 B");
  switch (device_.type) {
    case DeviceType::meta:
      break;  // offsets from a null base, no memory
    case DeviceType::cpu: {
      // Pages are committed on first touch, so a large budget costs nothing until used.
      void* p = mmap(nullptr, budget_, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p == MAP_FAILED)
        throw Error("arena on cpu: cannot reserve " + format_bytes(budget_) + ": " +
                    std::strerror(errno));
      base_ = p;
      break;
    }
    case DeviceType::cuda:
      cuda_set_device(device_.index);
      try {
        base_ = cuda_malloc(budget_);
      } catch (const Error& e) {
        throw Error("arena on " + device_.str() + ": cannot reserve " + format_bytes(budget_) +
                    " (" + e.what() + ")");
      }
      break;
  }
  nodes_.emplace(0, Node{budget_, true, Category::workspace});
  insert_free(0, budget_);
}

Arena::~Arena() {
  if (!base_) return;
  if (device_.is_cpu()) munmap(base_, budget_);
  if (device_.is_cuda()) cuda_free(base_);
}

void Arena::insert_free(std::uint64_t offset, std::uint64_t size) {
  free_by_size_.emplace(size, offset);
  free_by_offset_.emplace(offset, size);
}

void Arena::erase_free(std::uint64_t offset, std::uint64_t size) {
  free_by_size_.erase({size, offset});
  free_by_offset_.erase(offset);
}

Block Arena::allocate(std::uint64_t bytes, Category category, Placement placement) {
  if (bytes == 0) return Block{0, 0, category};
  std::lock_guard<std::mutex> lock(mu_);
  const std::uint64_t size =
      bytes > std::numeric_limits<std::uint64_t>::max() - kArenaAlignment ? 0 : align_up(bytes);
  std::uint64_t hole_offset = 0, hole_size = 0;
  bool found = false;
  const bool low = placement == Placement::low || is_persistent(category);
  if (size != 0 && low) {
    // First fit from the low end: the model's memory packs together at the bottom.
    for (const auto& [off, sz] : free_by_offset_) {
      if (sz >= size) {
        hole_offset = off;
        hole_size = sz;
        found = true;
        break;
      }
    }
  } else if (size != 0) {
    // Best fit; among equal sizes the highest address, so transients stay at the top.
    auto it = free_by_size_.lower_bound({size, 0});
    if (it != free_by_size_.end()) {
      auto last = free_by_size_.upper_bound({it->first, std::numeric_limits<std::uint64_t>::max()});
      --last;
      hole_size = last->first;
      hole_offset = last->second;
      found = true;
    }
  }
  if (!found) {
    ArenaStats s = stats_locked();
    throw OutOfMemory(oom_message(bytes, category), bytes, category, std::move(s), tag_);
  }

  erase_free(hole_offset, hole_size);
  nodes_.erase(hole_offset);
  const std::uint64_t rest = hole_size - size;
  std::uint64_t offset;
  if (low) {
    offset = hole_offset;
    if (rest) {
      nodes_.emplace(offset + size, Node{rest, true, Category::workspace});
      insert_free(offset + size, rest);
    }
  } else {
    offset = hole_offset + rest;
    if (rest) {
      nodes_.emplace(hole_offset, Node{rest, true, Category::workspace});
      insert_free(hole_offset, rest);
    }
  }
  nodes_.emplace(offset, Node{size, false, category});
  return placed(Block{offset, size, category});
}

Block Arena::placed(const Block& b) {
  const Category category = b.category;
  const std::uint64_t size = b.size;
  const int c = static_cast<int>(category);
  in_use_ += size;
  current_[c] += size;
  peak_by_category_[c] = std::max(peak_by_category_[c], current_[c]);
  if (in_use_ > peak_) {
    peak_ = in_use_;
    at_peak_ = current_;
    peak_tag_ = tag_;
  }
  ++live_blocks_;
  ++allocations_;
  record(TimelineEvent::Kind::alloc, category, size);
  if (logging_placements_) placement_log_.push_back(b);
  return b;
}

Block Arena::claim(std::uint64_t offset, std::uint64_t bytes, Category category) {
  if (bytes == 0) return Block{0, 0, category};
  std::lock_guard<std::mutex> lock(mu_);
  const std::uint64_t size = align_up(bytes);
  auto it = nodes_.upper_bound(offset);
  const bool inside = offset % kArenaAlignment == 0 && size <= budget_ && it != nodes_.begin();
  if (inside) --it;
  if (!inside || !it->second.free || offset + size > it->first + it->second.size)
    throw Error("arena on " + device_.str() + ": [" + std::to_string(offset) + ", +" +
                format_bytes(size) + ") is not free to claim");
  const std::uint64_t hole = it->first, hole_end = it->first + it->second.size;
  erase_free(hole, it->second.size);
  nodes_.erase(it);
  if (offset > hole) {
    nodes_.emplace(hole, Node{offset - hole, true, Category::workspace});
    insert_free(hole, offset - hole);
  }
  if (offset + size < hole_end) {
    nodes_.emplace(offset + size, Node{hole_end - offset - size, true, Category::workspace});
    insert_free(offset + size, hole_end - offset - size);
  }
  nodes_.emplace(offset, Node{size, false, category});
  return placed(Block{offset, size, category});
}

void Arena::log_placements(bool on) {
  std::lock_guard<std::mutex> lock(mu_);
  logging_placements_ = on;
  if (on) placement_log_.clear();
}

std::vector<Block> Arena::placements() const {
  std::lock_guard<std::mutex> lock(mu_);
  return placement_log_;
}

void Arena::free(const Block& block) {
  if (block.size == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = nodes_.find(block.offset);
  if (it == nodes_.end() || it->second.free || it->second.size != block.size ||
      it->second.category != block.category) {
    throw Error("arena on " + device_.str() + ": free of a block it does not hold (offset " +
                std::to_string(block.offset) + ", " + format_bytes(block.size) + ")");
  }
  const int c = static_cast<int>(block.category);
  in_use_ -= block.size;
  current_[c] -= block.size;
  --live_blocks_;
  record(TimelineEvent::Kind::free, block.category, block.size);

  std::uint64_t offset = block.offset;
  std::uint64_t size = block.size;
  // Coalesce with the free neighbours on both sides.
  auto next = std::next(it);
  if (next != nodes_.end() && next->second.free) {
    erase_free(next->first, next->second.size);
    size += next->second.size;
    nodes_.erase(next);
  }
  if (it != nodes_.begin()) {
    auto prev = std::prev(it);
    if (prev->second.free) {
      erase_free(prev->first, prev->second.size);
      offset = prev->first;
      size += prev->second.size;
      nodes_.erase(prev);
    }
  }
  nodes_.erase(block.offset);
  nodes_.emplace(offset, Node{size, true, Category::workspace});
  insert_free(offset, size);
}

void* Arena::address(const Block& block) const {
  if (!base_ || block.size == 0) return nullptr;
  return static_cast<char*>(base_) + block.offset;
}

std::string Arena::oom_message(std::uint64_t requested, Category category) const {
  std::string msg = "out of memory on " + device_.str() + ": requested " + format_bytes(requested) +
                    " (" + category_name(category) + ") with budget " + format_bytes(budget_) +
                    "; in use " + format_bytes(in_use_);
  const char* sep = ": ";
  for (int i = 0; i < kNumCategories; ++i) {
    if (current_[i] == 0) continue;
    msg += sep;
    msg += std::string(kCategoryNames[i]) + " " + format_bytes(current_[i]);
    sep = ", ";
  }
  const std::uint64_t largest = free_by_size_.empty() ? 0 : free_by_size_.rbegin()->first;
  msg += "; largest free block " + format_bytes(largest);
  // A near miss would read "requested 4.0 MiB ... largest free block 4.0 MiB": say by how much.
  if (largest < align_up(requested) && format_bytes(largest) == format_bytes(requested))
    msg += " (" + std::to_string(align_up(requested) - largest) + " B short)";
  const std::uint64_t free_total = budget_ - in_use_;
  if (free_total >= align_up(requested) && free_by_size_.size() > 1) {
    msg += " (" + format_bytes(free_total) + " free in " + std::to_string(free_by_size_.size()) +
           " fragments)";
  }
  return msg;
}

ArenaStats Arena::stats_locked() const {
  ArenaStats s;
  s.budget = budget_;
  s.in_use = in_use_;
  s.peak = peak_;
  s.current = current_;
  s.peak_by_category = peak_by_category_;
  s.at_peak = at_peak_;
  s.peak_tag = peak_tag_;
  s.live_blocks = live_blocks_;
  s.free_blocks = free_by_size_.size();
  s.largest_free = free_by_size_.empty() ? 0 : free_by_size_.rbegin()->first;
  s.allocations = allocations_;
  return s;
}

ArenaStats Arena::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_locked();
}

std::uint64_t Arena::in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_use_;
}

std::uint64_t Arena::current(Category c) const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_[static_cast<int>(c)];
}

void Arena::reset_peak() {
  std::lock_guard<std::mutex> lock(mu_);
  peak_ = in_use_;
  peak_by_category_ = current_;
  at_peak_ = current_;
  peak_tag_ = tag_;
}

void Arena::set_tag(std::string tag) {
  std::lock_guard<std::mutex> lock(mu_);
  tag_ = std::move(tag);
}

std::string Arena::tag() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tag_;
}

void Arena::record(TimelineEvent::Kind kind, Category c, std::uint64_t bytes) {
  if (recording_) timeline_.push_back(TimelineEvent{kind, c, bytes, in_use_, tag_});
}

void Arena::record_timeline(bool on) {
  std::lock_guard<std::mutex> lock(mu_);
  recording_ = on;
}

std::vector<TimelineEvent> Arena::timeline() const {
  std::lock_guard<std::mutex> lock(mu_);
  return timeline_;
}

void Arena::clear_timeline() {
  std::lock_guard<std::mutex> lock(mu_);
  timeline_.clear();
}

std::uint64_t default_budget(Device device) {
  switch (device.type) {
    case DeviceType::meta:
      return 4ull << 30;
    case DeviceType::cpu: {
      const long pages = sysconf(_SC_PHYS_PAGES);
      const long page = sysconf(_SC_PAGE_SIZE);
      if (pages <= 0 || page <= 0) return 4ull << 30;
      return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page) / 4 * 3;
    }
    case DeviceType::cuda: {
      const CudaDeviceInfo info = cuda_probe(device.index);
      if (!info.available) throw Error(info.reason);
      if (info.free_bytes <= kDefaultCudaReserve)
        throw Error(device.str() + ": only " + format_bytes(info.free_bytes) +
                    " free, less than the " + format_bytes(kDefaultCudaReserve) + " reserve");
      return info.free_bytes - kDefaultCudaReserve;
    }
  }
  return 0;
}

}  // namespace cugpt
