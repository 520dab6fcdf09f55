#include "engine/entry_arena.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <vector>

namespace memslim::engine {
namespace {

TEST(EntryArena, ArraysAreZeroedAndDoNotOverlap) {
    EntryArena arena;
    std::vector<std::pair<std::uint32_t*, std::size_t>> made;
    // Past one 1 MiB chunk: 3,000 arrays of 1..1,024 entries.
    for (std::size_t i = 0; i < 3000; ++i) {
        const std::size_t count = 1 + (i * 37) % EntryArena::kMaxCount;
        std::uint32_t* entries = arena.allocate(count);
        for (std::size_t k = 0; k < count; ++k) {
            ASSERT_EQ(entries[k], 0u);
            entries[k] = static_cast<std::uint32_t>(i + 1);
        }
        made.emplace_back(entries, count);
    }
    for (std::size_t i = 0; i < made.size(); ++i) {  // nothing written over by another
        const auto [entries, count] = made[i];
        for (std::size_t k = 0; k < count; ++k) ASSERT_EQ(entries[k], i + 1);
    }
}

TEST(EntryArena, AFreedArrayIsReusedForItsCountZeroedAgain) {
    EntryArena arena;
    std::uint32_t* a = arena.allocate(171);
    for (std::size_t k = 0; k < 171; ++k) a[k] = 7;
    const std::size_t bytes = arena.memory_bytes();
    arena.deallocate(a, 171);
    std::uint32_t* other = arena.allocate(172);  // another count: not that one
    EXPECT_NE(other, a);
    std::uint32_t* again = arena.allocate(171);
    EXPECT_EQ(again, a);
    for (std::size_t k = 0; k < 171; ++k) ASSERT_EQ(again[k], 0u);
    EXPECT_EQ(arena.memory_bytes(), bytes + 172 * 4);
}

TEST(EntryArena, ReleaseUnmapsEverythingAndTheArenaIsUsableAgain) {
    EntryArena arena;
    EXPECT_EQ(arena.memory_bytes(), 0u);
    for (int i = 0; i < 600; ++i) arena.allocate(EntryArena::kMaxCount);  // three chunks
    EXPECT_GE(arena.memory_bytes(), 600u * 4096);
    arena.release();
    EXPECT_EQ(arena.memory_bytes(), 0u);
    std::uint32_t* entries = arena.allocate(16);
    for (int k = 0; k < 16; ++k) EXPECT_EQ(entries[k], 0u);
}

}  // namespace
}  // namespace memslim::engine
