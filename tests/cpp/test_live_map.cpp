// Unit tests for engine/live_map, against std::unordered_map under random operations.
#include "engine/live_map.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>
#include <vector>

using memslim::engine::LiveBlock;
using memslim::engine::LiveMap;

TEST(LiveMap, InsertFindErase) {
    LiveMap map;
    LiveBlock block;
    map.insert(0x1000, 48, 7);
    ASSERT_TRUE(map.find(0x1000, &block));
    EXPECT_EQ(block.size, 48u);
    EXPECT_EQ(block.site, 7u);
    EXPECT_FALSE(map.find(0x2000, &block));
    EXPECT_TRUE(map.erase(0x1000, &block));
    EXPECT_FALSE(map.erase(0x1000, &block));
    EXPECT_EQ(map.size(), 0u);
}

TEST(LiveMap, LargeSizesAndClampedSites) {
    LiveMap map;
    LiveBlock block;
    map.insert(0x10, std::uint64_t{1} << 39, LiveMap::kMaxSite + 100);
    ASSERT_TRUE(map.find(0x10, &block));
    EXPECT_EQ(block.size, std::uint64_t{1} << 39);
    EXPECT_EQ(block.site, LiveMap::kMaxSite);
}

TEST(LiveMap, RandomOperationsMatchReference) {
    LiveMap map;
    std::unordered_map<std::uintptr_t, LiveBlock> reference;
    std::vector<std::uintptr_t> live;
    std::mt19937_64 rng(99);
    for (int step = 0; step < 400000; ++step) {
        if (live.empty() || rng() % 3 != 0) {
            std::uintptr_t address = 0x7f0000000000ULL + 16 * (rng() % 2000000);
            if (reference.count(address)) continue;
            std::uint64_t size = 1 + rng() % 4096;
            std::uint32_t site = static_cast<std::uint32_t>(rng() % 1000);
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
            EXPECT_EQ(block.size, reference[address].size);
            EXPECT_EQ(block.site, reference[address].site);
            reference.erase(address);
        }
    }
    EXPECT_EQ(map.size(), reference.size());
    for (const auto& [address, expected] : reference) {
        LiveBlock block;
        ASSERT_TRUE(map.find(address, &block));
        EXPECT_EQ(block.size, expected.size);
    }
}

TEST(LiveMap, ForEachVisitsEveryLiveBlockOnce) {
    LiveMap map;
    std::unordered_map<std::uintptr_t, LiveBlock> truth;
    std::mt19937_64 rng(11);
    for (int i = 0; i < 200'000; ++i) {  // past a rehash or two
        const std::uintptr_t address = 0x10000 + 16 * (rng() % 100'000);
        LiveBlock old;
        if (map.erase(address, &old)) {
            truth.erase(address);
        } else {
            const std::uint64_t size = rng() % (1u << 20);
            const auto site = static_cast<std::uint32_t>(rng() % 1000);
            map.insert(address, size, site);
            truth[address] = LiveBlock{size, site};
        }
    }
    std::unordered_map<std::uintptr_t, LiveBlock> seen;
    map.for_each([&](std::uintptr_t address, LiveBlock block) {
        EXPECT_TRUE(seen.emplace(address, block).second) << "visited twice: " << address;
    });
    ASSERT_EQ(seen.size(), truth.size());
    for (const auto& [address, block] : truth) {
        ASSERT_TRUE(seen.count(address));
        EXPECT_EQ(seen[address].size, block.size);
        EXPECT_EQ(seen[address].site, block.site);
    }
}
