// Unit tests for engine/block_map, against std::unordered_map under random operations.
#include "engine/block_map.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>
#include <vector>

using memslim::engine::BlockMap;
using memslim::engine::LiveBlock;

namespace {

// The blocks a test inserted, to check the map against.
struct Reference {
    std::unordered_map<std::uintptr_t, LiveBlock> blocks;
    std::vector<std::uintptr_t> live;

    void insert(BlockMap& map, std::uintptr_t address, std::uint64_t size, std::uint32_t site) {
        map.insert(address, size, site);
        blocks[address] = {size, site};
        live.push_back(address);
    }
    // Erases a random live block from both; the map must give back its size and site.
    ::testing::AssertionResult erase_one(BlockMap& map, std::mt19937_64& rng,
                                         std::uintptr_t* erased) {
        const std::size_t k = rng() % live.size();
        const std::uintptr_t address = live[k];
        live[k] = live.back();
        live.pop_back();
        const LiveBlock expected = blocks[address];
        blocks.erase(address);
        *erased = address;
        LiveBlock block;
        if (!map.erase(address, &block)) return ::testing::AssertionFailure() << "not found";
        if (block.size != expected.size || block.site != expected.site) {
            return ::testing::AssertionFailure() << "size " << block.size << " site " << block.site;
        }
        return ::testing::AssertionSuccess();
    }
};

}  // namespace

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

TEST(BlockMap, ClearForgetsEveryBlockAndFreesTheirEntries) {
    BlockMap map;
    LiveBlock block;
    const std::size_t empty_bytes = map.memory_bytes();
    for (std::uintptr_t i = 0; i < 10000; ++i) map.insert(0x7f0000000000 + i * 64, 48, 1);
    map.insert(0x7f1000000000, 100000, 2);
    ASSERT_GT(map.memory_bytes(), empty_bytes + 10000 * 4);
    map.clear();
    EXPECT_EQ(map.size(), 0u);
    EXPECT_EQ(map.memory_bytes(), empty_bytes);
    EXPECT_FALSE(map.find(0x7f0000000040, &block));
    EXPECT_FALSE(map.find(0x7f1000000000, &block));
    map.insert(0x7f0000000040, 32, 7);  // usable again
    ASSERT_TRUE(map.find(0x7f0000000040, &block));
    EXPECT_EQ(block.site, 7u);
    EXPECT_EQ(map.size(), 1u);
}

TEST(BlockMap, RandomOperationsMatchReference) {
    BlockMap map;
    Reference reference;
    std::mt19937_64 rng(4242);
    for (int step = 0; step < 500000; ++step) {
        if (reference.live.empty() || rng() % 3 != 0) {
            std::uintptr_t address = 0x7f0000000000ULL + 16 * (rng() % 3000000);
            if (reference.blocks.count(address)) continue;
            std::uint64_t size = rng() % 4 == 0 ? 513 + rng() % 100000 : rng() % 513;
            reference.insert(map, address, size, static_cast<std::uint32_t>(rng() % 100000));
        } else {
            std::uintptr_t address = 0;
            ASSERT_TRUE(reference.erase_one(map, rng, &address));
        }
    }
    EXPECT_EQ(map.size(), reference.blocks.size());
    LiveBlock block;
    EXPECT_FALSE(map.erase(0x10, &block));
}

namespace {

constexpr std::uintptr_t kPool = 0x7f0000100000;  // a 16 KiB-aligned region
constexpr std::uintptr_t kHeader = 48;            // pymalloc's pool header

}  // namespace

TEST(BlockMap, PoolOfOneSizeClassNeedsAnEntryPerBlock) {
    BlockMap map;
    const std::size_t empty = map.memory_bytes();
    const std::uintptr_t blocks = (BlockMap::kRegionBytes - kHeader) / 96;  // 170
    for (std::uintptr_t k = 0; k < blocks; ++k) {
        map.insert(kPool + kHeader + k * 96, 81 + k % 16, static_cast<std::uint32_t>(k));
    }
    EXPECT_EQ(map.size(), blocks);
    EXPECT_EQ(map.general_regions(), 0u);
    // 171 four-byte entries (the header's 48 bytes shift the phase), not 1,024; and the region
    // table's first 64 slots.
    EXPECT_GE(map.memory_bytes() - empty, 171u * 4);
    EXPECT_LE(map.memory_bytes() - empty, 171u * 4 + 64 * 32);
    LiveBlock block;
    EXPECT_FALSE(map.find(kPool + kHeader + 16, &block));  // inside a block
    EXPECT_FALSE(map.find(kPool, &block));                 // the header
    for (std::uintptr_t k = 0; k < blocks; ++k) {
        ASSERT_TRUE(map.erase(kPool + kHeader + k * 96, &block));
        EXPECT_EQ(block.size, 81 + k % 16);
        EXPECT_EQ(block.site, k);
    }
    EXPECT_EQ(map.size(), 0u);
}

TEST(BlockMap, EmptiedPoolTakesTheNextSizeClass) {
    BlockMap map;
    LiveBlock block;
    for (std::uintptr_t k = 0; k < 100; ++k) map.insert(kPool + kHeader + k * 64, 64, 1);
    for (std::uintptr_t k = 0; k < 100; ++k) {
        ASSERT_TRUE(map.erase(kPool + kHeader + k * 64, &block));
    }
    // pymalloc reuses the empty pool for 32-byte blocks: every one of them fits, still strided.
    for (std::uintptr_t k = 0; k < 500; ++k) map.insert(kPool + kHeader + k * 32, 30, 2);
    EXPECT_EQ(map.general_regions(), 0u);
    EXPECT_LE(map.memory_bytes(), 512 * 4 + 64 * 32 + BlockMap().memory_bytes());
    for (std::uintptr_t k = 0; k < 500; ++k) {
        ASSERT_TRUE(map.find(kPool + kHeader + k * 32, &block));
        EXPECT_EQ(block.size, 30u);
    }
}

namespace {

// The small blocks (≤ 512 bytes) that the map keeps in its general map.
std::size_t small_in_general_map(const BlockMap& map) {
    std::size_t small = 0;
    map.for_each_large([&](std::uintptr_t, LiveBlock block) {
        small += block.size <= BlockMap::kSmallMax ? 1 : 0;
    });
    return small;
}

}  // namespace

TEST(BlockMap, MixedSizesKeepTheLayoutAndSendMisfitsToTheGeneralMap) {
    BlockMap map;
    LiveBlock block;
    map.insert(kPool + 0x100, 100, 7);  // stride 112, phase 0x100 % 112
    map.insert(kPool + 0x180, 40, 8);   // 0x80 further: no 112-byte step
    map.insert(kPool + 0x1b0, 24, 9);
    map.insert(kPool + 0x100 + 2 * 112, 97, 10);  // on the layout: an entry
    EXPECT_EQ(map.general_regions(), 0u);
    EXPECT_EQ(small_in_general_map(map), 2u);
    EXPECT_EQ(map.size(), 4u);
    ASSERT_TRUE(map.erase(kPool + 0x100, &block));
    EXPECT_EQ(block.size, 100u);
    EXPECT_EQ(block.site, 7u);
    ASSERT_TRUE(map.erase(kPool + 0x180, &block));
    EXPECT_EQ(block.site, 8u);
    ASSERT_TRUE(map.erase(kPool + 0x100 + 2 * 112, &block));
    EXPECT_EQ(block.size, 97u);
    // The layout's blocks are gone, a misfit (0x1b0) lives on in the general map: the next
    // block lays the region out anew (stride 48, phase 0), on which the misfit's address is a
    // block start, and the misfit is still found there.
    map.insert(kPool + 0x210, 48, 1);
    EXPECT_EQ(small_in_general_map(map), 1u);
    ASSERT_TRUE(map.find(kPool + 0x1b0, &block));
    EXPECT_EQ(block.site, 9u);
    ASSERT_TRUE(map.erase(kPool + 0x1b0, &block));
    EXPECT_EQ(block.size, 24u);
    EXPECT_EQ(block.site, 9u);
    ASSERT_TRUE(map.erase(kPool + 0x210, &block));
    EXPECT_EQ(block.site, 1u);
    EXPECT_EQ(map.size(), 0u);
}

TEST(BlockMap, OneSpotOfAlternatingSizesGoesToTheGeneralMap) {
    BlockMap map;
    LiveBlock block;
    const std::size_t start = map.memory_bytes();
    for (int i = 0; i < 1000; ++i) {
        map.insert(kPool + 0x400, i % 2 == 0 ? 100 : 40, 3);
        ASSERT_TRUE(map.erase(kPool + 0x400, &block));
        EXPECT_EQ(block.size, i % 2 == 0 ? 100u : 40u);
    }
    EXPECT_EQ(map.general_regions(), 1u);
    // No entries left: the region table's first 64 slots.
    EXPECT_LE(map.memory_bytes() - start, 64 * 32);
    // Every later block of that region is in the general map, each found again.
    for (std::uintptr_t k = 0; k < 100; ++k) map.insert(kPool + 16 * k, 16 + k, 4);
    EXPECT_EQ(small_in_general_map(map), 100u);
    for (std::uintptr_t k = 0; k < 100; ++k) {
        ASSERT_TRUE(map.erase(kPool + 16 * k, &block));
        EXPECT_EQ(block.size, 16 + k);
    }
}

TEST(BlockMap, ARegionOfScatteredMixedBlocksCostsLessThanAnEntryPerSlot) {
    // The C allocator's region: 20 blocks of assorted sizes, the first of 500 bytes (a layout
    // of 32 entries that none of the others fits). An entry per 16-byte slot was 4 KiB.
    BlockMap map;
    const std::size_t start = map.memory_bytes();
    for (std::uintptr_t k = 0; k < 20; ++k) {
        map.insert(kPool + 0x40 + k * 0x310, k == 0 ? 500 : 24 + k * 20, 5);
    }
    EXPECT_EQ(map.size(), 20u);
    EXPECT_EQ(small_in_general_map(map), 19u);
    // The region table's first 64 slots, 32 entries; the general map holds 19 in its first 256.
    EXPECT_LE(map.memory_bytes() - start, 64u * 32 + 32 * 4);
}

// A simulation of pymalloc's pools (one size class each, reused for any class once empty) beside
// regions of mixed sizes, against std::unordered_map.
TEST(BlockMap, PoolsAndMixedRegionsMatchReference) {
    constexpr int kPools = 64;
    struct Pool {
        std::uint32_t size_class = 0;  // 0: empty
        std::vector<bool> used;
        int live = 0;
    };
    std::vector<Pool> pools(kPools);
    BlockMap map;
    Reference reference;
    std::mt19937_64 rng(77);
    for (int step = 0; step < 400000; ++step) {
        // Allocations outnumber frees until the pools are nearly full, then balance them.
        if (reference.live.empty() || rng() % (reference.live.size() < 2000 ? 3 : 2) != 0) {
            std::uintptr_t address = 0;
            const std::uint64_t size = 1 + rng() % 512;
            if (rng() % 8 == 0) {  // a mixed region, past the pools
                address = kPool + kPools * BlockMap::kRegionBytes + 16 * (rng() % 20000);
                if (reference.blocks.count(address)) continue;
            } else {
                const auto size_class = static_cast<std::uint32_t>((size + 15) & ~15ULL);
                // As pymalloc: a pool of the class with room, else an empty pool.
                Pool* pool = nullptr;
                for (Pool& candidate : pools) {
                    if (candidate.size_class == size_class &&
                        candidate.live < static_cast<int>(candidate.used.size())) {
                        pool = &candidate;
                        break;
                    }
                }
                for (std::size_t p = rng() % kPools, n = 0; pool == nullptr && n < kPools;
                     p = (p + 1) % kPools, ++n) {
                    if (pools[p].size_class == 0) {
                        pool = &pools[p];
                        pool->size_class = size_class;
                        pool->used.assign((BlockMap::kRegionBytes - kHeader) / size_class, false);
                    }
                }
                if (pool == nullptr) continue;
                std::size_t k = rng() % pool->used.size();
                while (pool->used[k]) k = (k + 1) % pool->used.size();
                pool->used[k] = true;
                ++pool->live;
                address = kPool + static_cast<std::uintptr_t>(pool - pools.data()) *
                                      BlockMap::kRegionBytes +
                          kHeader + k * size_class;
            }
            reference.insert(map, address, size, static_cast<std::uint32_t>(rng() % 100000));
        } else {
            std::uintptr_t address = 0;
            ASSERT_TRUE(reference.erase_one(map, rng, &address));
            const std::uintptr_t p = (address - kPool) / BlockMap::kRegionBytes;
            if (p < kPools) {
                Pool& pool = pools[p];
                pool.used[(address - kPool - p * BlockMap::kRegionBytes - kHeader) /
                          pool.size_class] = false;
                if (--pool.live == 0) pool.size_class = 0;
            }
        }
    }
    EXPECT_EQ(map.size(), reference.blocks.size());
    // Nearly all pools keep their strided layouts (seeded); the mixed regions' blocks that do
    // not fit theirs are in the general map.
    EXPECT_LE(map.general_regions(), 20u + kPools / 8);
    for (const auto& [address, expected] : reference.blocks) {
        LiveBlock block;
        ASSERT_TRUE(map.find(address, &block));
        ASSERT_EQ(block.size, expected.size);
        ASSERT_EQ(block.site, expected.site);
    }
}
