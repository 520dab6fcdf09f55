// Unit tests for engine/block_map, against std::unordered_map under random operations.
#include "engine/block_map.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>
#include <vector>

using memslim::engine::BlockMap;
using memslim::engine::LiveBlock;

TEST(BlockMap, SmallAndLargeBlocks) {
    BlockMap map;
    LiveBlock block;
    map.insert(0x7f0000004010, 48, 3);      // small: region array
    map.insert(0x7f0000008000, 0, 0);       // size 0, site 0: still recorded
    map.insert(0x7f1000000000, 100000, 9);  // large: general map
    map.insert(0x7f0000004018, 8, 5);       // not 16-byte aligned: general map
    map.insert(0x7f000000c000, 64, BlockMap::kMaxSmallSite + 1);  // huge site id
    EXPECT_EQ(map.size(), 5u);
    ASSERT_TRUE(map.find(0x7f1000000000, &block));
    EXPECT_EQ(block.site, 9u);
    ASSERT_TRUE(map.find(0x7f0000004010, &block));
    EXPECT_EQ(block.size, 48u);
    EXPECT_FALSE(map.find(0x7f0000004020, &block));
    ASSERT_TRUE(map.erase(0x7f0000004010, &block));
    EXPECT_EQ(block.size, 48u);
    EXPECT_EQ(block.site, 3u);
    ASSERT_TRUE(map.erase(0x7f0000008000, &block));
    EXPECT_EQ(block.size, 0u);
    EXPECT_EQ(block.site, 0u);
    ASSERT_TRUE(map.erase(0x7f1000000000, &block));
    EXPECT_EQ(block.size, 100000u);
    ASSERT_TRUE(map.erase(0x7f0000004018, &block));
    EXPECT_EQ(block.site, 5u);
    ASSERT_TRUE(map.erase(0x7f000000c000, &block));
    EXPECT_EQ(block.site, BlockMap::kMaxSmallSite + 1);
    EXPECT_FALSE(map.erase(0x7f0000004010, &block));
    EXPECT_EQ(map.size(), 0u);
}

TEST(BlockMap, RandomOperationsMatchReference) {
    BlockMap map;
    std::unordered_map<std::uintptr_t, LiveBlock> reference;
    std::vector<std::uintptr_t> live;
    std::mt19937_64 rng(4242);
    for (int step = 0; step < 500000; ++step) {
        if (live.empty() || rng() % 3 != 0) {
            std::uintptr_t address = 0x7f0000000000ULL + 16 * (rng() % 3000000);
            if (reference.count(address)) continue;
            std::uint64_t size = rng() % 4 == 0 ? 513 + rng() % 100000 : rng() % 513;
            auto site = static_cast<std::uint32_t>(rng() % 100000);
            map.insert(address, size, site);
            reference[address] = {size, site};
            live.push_back(address);
        } else {
            std::size_t k = rng() % live.size();
            std::uintptr_t address = live[k];
            live[k] = live.back();
            live.pop_back();
            LiveBlock block;
            ASSERT_TRUE(map.erase(address, &block));
            ASSERT_EQ(block.size, reference[address].size);
            ASSERT_EQ(block.site, reference[address].site);
            reference.erase(address);
        }
    }
    EXPECT_EQ(map.size(), reference.size());
    LiveBlock block;
    EXPECT_FALSE(map.erase(0x10, &block));
}
