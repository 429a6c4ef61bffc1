#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "nn/arena.h"
#include "nn/bytes.h"

namespace cugpt {
namespace {

constexpr std::uint64_t MiB = 1ull << 20;

TEST(Arena, AlignsEveryBlockTo256Bytes) {
  Arena a(Device::meta(), 64 * MiB);
  for (std::uint64_t n : {1ull, 255ull, 256ull, 257ull, 1000ull, 4097ull}) {
    const Block p = a.allocate(n, Category::parameter);
    const Block t = a.allocate(n, Category::activation);
    EXPECT_EQ(p.offset % 256, 0u);
    EXPECT_EQ(t.offset % 256, 0u);
    EXPECT_EQ(p.size, align_up(n));
    EXPECT_GE(p.size, n);
  }
  EXPECT_EQ(a.stats().live_blocks, 12u);
}

TEST(Arena, BudgetIsRoundedDownAndExact) {
  Arena a(Device::meta(), 10 * 256 + 100);
  EXPECT_EQ(a.budget(), 10u * 256);
  const Block b = a.allocate(10 * 256, Category::activation);  // exactly the budget fits
  EXPECT_EQ(a.stats().largest_free, 0u);
  EXPECT_THROW(a.allocate(1, Category::activation), OutOfMemory);
  a.free(b);
  EXPECT_THROW(a.allocate(10 * 256 + 1, Category::parameter), OutOfMemory);
  EXPECT_NO_THROW(a.free(a.allocate(10 * 256, Category::parameter)));
}

TEST(Arena, PersistentFromTheBottomTransientFromTheTop) {
  Arena a(Device::meta(), 16 * MiB);
  const Block p1 = a.allocate(MiB, Category::parameter);
  const Block p2 = a.allocate(MiB, Category::optimizer_state);
  const Block t1 = a.allocate(MiB, Category::activation);
  const Block t2 = a.allocate(MiB, Category::kv_cache);
  EXPECT_EQ(p1.offset, 0u);
  EXPECT_EQ(p2.offset, MiB);
  EXPECT_EQ(t1.offset, 15 * MiB);
  EXPECT_EQ(t2.offset, 14 * MiB);
  // Transient churn between the two ends never splits the persistent region.
  for (int i = 0; i < 100; ++i) a.free(a.allocate((i % 7 + 1) * 4096, Category::workspace));
  EXPECT_EQ(a.stats().free_blocks, 1u);
  EXPECT_EQ(a.stats().largest_free, 12 * MiB);
}

// A transient asked for low goes first-fit from the bottom, above the model's memory, and
// counts as its own category: the top stays one free region for the churn.
TEST(Arena, LowPlacementKeepsATransientOutOfTheTop) {
  Arena a(Device::meta(), 16 * MiB);
  const Block p = a.allocate(MiB, Category::parameter);
  const Block temp = a.allocate(2 * MiB, Category::activation);
  const Block kept = a.allocate(MiB, Category::activation, Placement::low);
  EXPECT_EQ(kept.offset, p.offset + p.size);
  EXPECT_EQ(temp.offset + temp.size, 16 * MiB);
  EXPECT_EQ(a.current(Category::activation), 3 * MiB);
  a.free(temp);
  EXPECT_EQ(a.stats().largest_free, 14 * MiB);  // one piece from the checkpoint to the top
  EXPECT_EQ(a.allocate(14 * MiB, Category::activation).offset, 2 * MiB);
}

TEST(Arena, SplitsAndCoalescesInAnyFreeOrder) {
  Arena a(Device::meta(), 8 * MiB);
  std::vector<Block> blocks;
  for (int i = 0; i < 8; ++i) blocks.push_back(a.allocate(MiB, Category::activation));
  EXPECT_EQ(a.stats().largest_free, 0u);
  // Free the even ones: four separate holes, none larger than 1 MiB.
  for (int i = 0; i < 8; i += 2) a.free(blocks[i]);
  EXPECT_EQ(a.stats().free_blocks, 4u);
  EXPECT_EQ(a.stats().largest_free, MiB);
  // Freeing the odd ones merges everything back into one block.
  for (int i = 1; i < 8; i += 2) a.free(blocks[i]);
  EXPECT_EQ(a.stats().free_blocks, 1u);
  EXPECT_EQ(a.stats().largest_free, 8 * MiB);
  EXPECT_EQ(a.in_use(), 0u);
}

TEST(Arena, BestFitPicksTheSmallestHoleThatFits) {
  Arena a(Device::meta(), 64 * MiB);
  // Holes of 3, 1 and 2 MiB separated by live blocks.
  const Block h3 = a.allocate(3 * MiB, Category::activation);
  const Block s1 = a.allocate(MiB, Category::activation);
  const Block h1 = a.allocate(MiB, Category::activation);
  const Block s2 = a.allocate(MiB, Category::activation);
  const Block h2 = a.allocate(2 * MiB, Category::activation);
  const Block s3 = a.allocate(MiB, Category::activation);
  a.free(h3);
  a.free(h1);
  a.free(h2);
  const Block fit = a.allocate(2 * MiB - 4096, Category::activation);
  // The 2 MiB hole is the best fit; a transient sits at its top end.
  EXPECT_EQ(fit.offset + fit.size, h2.offset + h2.size);
  const Block one = a.allocate(MiB, Category::workspace);
  EXPECT_EQ(one.offset, h1.offset);
  (void)s1, (void)s2, (void)s3;
}

TEST(Arena, FragmentationIsReportedAndRecoverable) {
  Arena a(Device::meta(), 4 * MiB);
  std::vector<Block> blocks;
  for (int i = 0; i < 4; ++i) blocks.push_back(a.allocate(MiB, Category::activation));
  a.free(blocks[0]);
  a.free(blocks[2]);
  // 2 MiB are free but in two 1 MiB holes: a 2 MiB request cannot be placed.
  try {
    a.allocate(2 * MiB, Category::activation);
    FAIL() << "expected OutOfMemory";
  } catch (const OutOfMemory& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("largest free block 1.0 MiB"), std::string::npos) << m;
    EXPECT_NE(m.find("2.0 MiB free in 2 fragments"), std::string::npos) << m;
  }
  a.free(blocks[1]);
  EXPECT_NO_THROW(a.allocate(3 * MiB, Category::activation));
}

// When the request and the largest hole print alike, the message says how far apart they are.
TEST(Arena, NearMissSaysHowManyBytesShort) {
  Arena a(Device::meta(), 4 * MiB);
  a.allocate(MiB + 1024, Category::activation);
  a.free(a.allocate(3 * MiB - 1024, Category::activation));  // leaves one hole of 3 MiB - 1 KiB
  try {
    a.allocate(3 * MiB, Category::activation);
    FAIL() << "expected OutOfMemory";
  } catch (const OutOfMemory& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("requested 3.0 MiB"), std::string::npos) << m;
    EXPECT_NE(m.find("largest free block 3.0 MiB (1024 B short)"), std::string::npos) << m;
  }
}

TEST(Arena, OutOfMemoryMessageAndRecovery) {
  Arena a(Device::meta(), 4ull << 30);
  const Block p = a.allocate(512 * MiB + 600 * 1024, Category::parameter);
  const Block g = a.allocate(512 * MiB + 600 * 1024, Category::gradient);
  const Block o = a.allocate(1ull << 30, Category::optimizer_state);
  const Block act = a.allocate(2000 * MiB, Category::activation);
  const ArenaStats before = a.stats();
  try {
    a.allocate(96 * MiB, Category::activation);
    FAIL() << "expected OutOfMemory";
  } catch (const OutOfMemory& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("out of memory on meta: requested 96.0 MiB (activation) with budget "
                      "4.00 GiB; in use 3.95 GiB: parameter 512.6 MiB, gradient 512.6 MiB, "
                      "optimizer_state 1.00 GiB, activation 1.95 GiB; largest free block 46.8 MiB",
                      0),
              0u)
        << m;
    EXPECT_EQ(e.requested(), 96 * MiB);
    EXPECT_EQ(e.category(), Category::activation);
    EXPECT_EQ(e.stats().in_use, before.in_use);
  }
  // The failed request changed nothing, and the arena keeps working.
  const ArenaStats after = a.stats();
  EXPECT_EQ(after.in_use, before.in_use);
  EXPECT_EQ(after.live_blocks, before.live_blocks);
  EXPECT_EQ(after.largest_free, before.largest_free);
  a.free(act);
  EXPECT_NO_THROW(a.free(a.allocate(96 * MiB, Category::activation)));
  a.free(p), a.free(g), a.free(o);
  EXPECT_EQ(a.in_use(), 0u);
}

TEST(Arena, CountsCurrentAndPeakPerCategory) {
  Arena a(Device::meta(), 64 * MiB);
  const Block p = a.allocate(MiB, Category::parameter);
  Block x;
  {
    ArenaTag tag(a, "block0.attn");
    x = a.allocate(4 * MiB, Category::activation);
  }
  EXPECT_EQ(a.tag(), "");
  const Block w = a.allocate(2 * MiB, Category::workspace);
  a.free(x);
  a.free(w);
  const ArenaStats s = a.stats();
  EXPECT_EQ(s.in_use, MiB);
  EXPECT_EQ(s.peak, 7 * MiB);
  EXPECT_EQ(s.current[static_cast<int>(Category::parameter)], MiB);
  EXPECT_EQ(s.current[static_cast<int>(Category::activation)], 0u);
  EXPECT_EQ(s.peak_by_category[static_cast<int>(Category::activation)], 4 * MiB);
  EXPECT_EQ(s.at_peak[static_cast<int>(Category::workspace)], 2 * MiB);
  EXPECT_EQ(s.peak_tag, "");  // the peak was reached by the untagged workspace allocation
  a.reset_peak();
  EXPECT_EQ(a.stats().peak, MiB);
  a.free(p);
}

TEST(Arena, PeakRecordsTheTagOfTheOperation) {
  Arena a(Device::meta(), 64 * MiB);
  ArenaTag tag(a, "lm_head");
  const Block b = a.allocate(8 * MiB, Category::activation);
  EXPECT_EQ(a.stats().peak_tag, "lm_head");
  a.free(b);
}

TEST(Arena, TimelineRecordsEveryEvent) {
  Arena a(Device::meta(), 64 * MiB);
  a.record_timeline(true);
  const Block p = a.allocate(1000, Category::parameter);
  const Block x = a.allocate(MiB, Category::activation);
  a.free(x);
  const auto tl = a.timeline();
  ASSERT_EQ(tl.size(), 3u);
  EXPECT_EQ(tl[0].kind, TimelineEvent::Kind::alloc);
  EXPECT_EQ(tl[0].bytes, 1024u);
  EXPECT_EQ(tl[1].in_use, 1024u + MiB);
  EXPECT_EQ(tl[2].kind, TimelineEvent::Kind::free);
  EXPECT_EQ(tl[2].category, Category::activation);
  EXPECT_EQ(tl[2].in_use, 1024u);
  a.clear_timeline();
  a.record_timeline(false);
  a.free(p);
  EXPECT_TRUE(a.timeline().empty());
}

TEST(Arena, RejectsDoubleFreeAndForeignBlocks) {
  Arena a(Device::meta(), MiB);
  const Block b = a.allocate(1000, Category::activation);
  a.free(b);
  EXPECT_THROW(a.free(b), Error);
  EXPECT_THROW(a.free(Block{512, 256, Category::activation}), Error);
  const Block z = a.allocate(0, Category::activation);
  EXPECT_EQ(z.size, 0u);
  EXPECT_NO_THROW(a.free(z));
  EXPECT_EQ(a.stats().live_blocks, 0u);
}

// The same random sequence of requests gives identical statistics and offsets on meta and cpu:
// meta's answers are the real allocator's answers.
// What a captured CUDA graph needs (models/decode_step.h): the list of blocks a stretch of work
// placed, and claiming exactly those ranges again once the work's blocks are freed.
TEST(Arena, PlacementLogAndClaimHoldWhatAStretchOfWorkUsed) {
  Arena a(Device::meta(), 64 * MiB);
  const Block model = a.allocate(MiB, Category::parameter);
  a.log_placements(true);
  const Block x = a.allocate(3000, Category::activation);
  const Block y = a.allocate(MiB, Category::workspace);
  a.free(x);
  const Block z = a.allocate(100, Category::activation);  // reuses x's range
  a.log_placements(false);
  (void)a.allocate(512, Category::activation);  // not logged
  const std::vector<Block> log = a.placements();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].offset, x.offset);
  EXPECT_EQ(log[1].offset, y.offset);
  EXPECT_EQ(log[2].offset, z.offset);
  a.free(y);
  a.free(z);
  const std::uint64_t in_use = a.in_use();
  const Block held = a.claim(y.offset, y.size, Category::workspace);
  EXPECT_EQ(held.offset, y.offset);
  EXPECT_EQ(a.in_use(), in_use + y.size);
  EXPECT_EQ(a.current(Category::workspace), y.size);
  // Nothing allocated now lands inside the held range.
  for (int i = 0; i < 20; ++i) {
    const Block b = a.allocate(256 * (i + 1), Category::activation);
    EXPECT_TRUE(b.offset + b.size <= held.offset || b.offset >= held.offset + held.size);
  }
  EXPECT_THROW(a.claim(model.offset, 256, Category::workspace), Error);  // in use
  EXPECT_THROW(a.claim(held.offset + 256, 256, Category::workspace), Error);
  EXPECT_THROW(a.claim(a.budget() - 256, 512, Category::workspace), Error);  // past the end
  EXPECT_THROW(a.claim(MiB + 1, 256, Category::workspace), Error);           // unaligned
  a.free(held);
  EXPECT_EQ(a.current(Category::workspace), 0u);
}

TEST(Arena, MetaAndCpuAgreeByteForByte) {
  Arena meta(Device::meta(), 256 * MiB);
  Arena cpu(Device::cpu(), 256 * MiB);
  std::mt19937 rng(7);
  std::vector<std::pair<Block, Block>> live;
  int ooms = 0;
  for (int step = 0; step < 2000; ++step) {
    if (!live.empty() && rng() % 3 == 0) {
      const std::size_t i = rng() % live.size();
      meta.free(live[i].first);
      cpu.free(live[i].second);
      live.erase(live.begin() + static_cast<long>(i));
      continue;
    }
    const std::uint64_t bytes = 1 + rng() % (2 * MiB);
    const Category c = category_at(static_cast<int>(rng() % kNumCategories));
    // Both place the block at the same offset, or both run out of memory.
    bool meta_oom = false, cpu_oom = false;
    Block m, h;
    try {
      m = meta.allocate(bytes, c);
    } catch (const OutOfMemory&) {
      meta_oom = true;
    }
    try {
      h = cpu.allocate(bytes, c);
    } catch (const OutOfMemory&) {
      cpu_oom = true;
    }
    ASSERT_EQ(meta_oom, cpu_oom);
    if (meta_oom) {
      ++ooms;
      continue;
    }
    ASSERT_EQ(m.offset, h.offset);
    live.emplace_back(m, h);
  }
  const ArenaStats sm = meta.stats(), sc = cpu.stats();
  EXPECT_EQ(sm.in_use, sc.in_use);
  EXPECT_EQ(sm.peak, sc.peak);
  EXPECT_EQ(sm.current, sc.current);
  EXPECT_EQ(sm.peak_by_category, sc.peak_by_category);
  EXPECT_EQ(sm.live_blocks, sc.live_blocks);
  EXPECT_EQ(sm.largest_free, sc.largest_free);
  EXPECT_GT(ooms, 0);  // the sequence drives both arenas into fragmentation and back
  for (auto& [m, h] : live) {
    meta.free(m);
    cpu.free(h);
  }
  EXPECT_EQ(meta.in_use(), 0u);
  EXPECT_EQ(meta.stats().free_blocks, 1u);
}

TEST(Arena, MetaHasNoAddressesCpuHasWritableOnes) {
  Arena meta(Device::meta(), MiB);
  EXPECT_EQ(meta.address(meta.allocate(100, Category::activation)), nullptr);
  Arena cpu(Device::cpu(), MiB);
  const Block b = cpu.allocate(100, Category::activation);
  auto* p = static_cast<unsigned char*>(cpu.address(b));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 256, 0u);
  p[99] = 42;
  EXPECT_EQ(p[99], 42);
}

TEST(Arena, CategoryNamesRoundTrip) {
  for (int i = 0; i < kNumCategories; ++i)
    EXPECT_EQ(parse_category(category_name(category_at(i))), category_at(i));
  EXPECT_TRUE(is_persistent(Category::master_weight));
  EXPECT_FALSE(is_persistent(Category::kv_cache));
  EXPECT_THROW(parse_category("weights"), Error);
}

}  // namespace
}  // namespace cugpt
