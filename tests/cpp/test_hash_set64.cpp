// Unit tests for engine/hash_set64, against std::unordered_set.
#include "engine/hash_set64.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_set>

using memslim::engine::HashSet64;

TEST(HashSet64, TellsNewKeysFromRepeatsAcrossGrowths) {
    HashSet64 set;
    std::unordered_set<std::uint64_t> reference;
    std::mt19937_64 rng(7);
    // Keys drawn from a small range repeat; 300,000 inserts grow the set from 1,024 slots
    // past several 64 KiB stretches of its old tables.
    for (int i = 0; i < 300000; ++i) {
        const std::uint64_t key = 1 + rng() % 150000;
        ASSERT_EQ(set.insert(key), reference.insert(key).second) << "insert #" << i;
    }
    EXPECT_EQ(set.size(), reference.size());
    EXPECT_LE(set.size() * 2, set.memory_bytes() / sizeof(std::uint64_t));
    // Every key is still found after the growths, and nothing else is.
    for (const std::uint64_t key : reference) ASSERT_FALSE(set.insert(key)) << key;
    EXPECT_TRUE(set.insert(150001));
}

TEST(HashSet64, KeysThatShareTheirLowBitsAllStay) {
    // Hashes that differ only above bit 40 land on homes next to each other in a small table:
    // long probe runs, wrapping around its end.
    HashSet64 set;
    for (std::uint64_t k = 1; k <= 5000; ++k) ASSERT_TRUE(set.insert(k << 40 | 1));
    for (std::uint64_t k = 1; k <= 5000; ++k) ASSERT_FALSE(set.insert(k << 40 | 1));
    EXPECT_EQ(set.size(), 5000u);
}

TEST(HashSet64, ClearEmptiesItAndGivesItsTableBack) {
    HashSet64 set;
    for (std::uint64_t k = 1; k <= 100000; ++k) set.insert(k * 0x9E3779B97F4A7C15ULL | 1);
    ASSERT_GE(set.memory_bytes(), 200000 * sizeof(std::uint64_t));
    set.clear();
    EXPECT_EQ(set.size(), 0u);
    EXPECT_EQ(set.memory_bytes(), 512 * sizeof(std::uint64_t));
    EXPECT_TRUE(set.insert(1 * 0x9E3779B97F4A7C15ULL | 1));  // new again
    EXPECT_FALSE(set.insert(1 * 0x9E3779B97F4A7C15ULL | 1));
}
