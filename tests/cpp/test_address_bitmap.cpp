// Unit tests for engine/address_bitmap.
#include "engine/address_bitmap.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <vector>

using memslim::engine::AddressBitmap;

TEST(AddressBitmap, InsertReportsNewOnlyOnce) {
    AddressBitmap set;
    EXPECT_TRUE(set.insert(0x7f0000001000));
    EXPECT_FALSE(set.insert(0x7f0000001000));
    EXPECT_TRUE(set.insert(0x7f0000001010));
    EXPECT_EQ(set.size(), 2u);
    EXPECT_TRUE(set.contains(0x7f0000001000));
    EXPECT_TRUE(set.contains(0x7f0000001010));
    EXPECT_FALSE(set.contains(0x7f0000001020));
    EXPECT_FALSE(set.contains(0x1000));  // a chunk that was never created
}

TEST(AddressBitmap, EightByteAlignedObjectsSixteenApartAreDistinct) {
    // Statically allocated objects may be only 8-byte aligned, but never overlap.
    AddressBitmap set;
    EXPECT_TRUE(set.insert(0x5008));
    EXPECT_TRUE(set.insert(0x5018));
    EXPECT_EQ(set.size(), 2u);
}

TEST(AddressBitmap, ChunkBoundariesAndFarApartAddresses) {
    AddressBitmap set;
    const std::uintptr_t mib = std::uintptr_t{1} << 20;
    std::vector<std::uintptr_t> addresses = {
        mib - 16, mib, mib + 16, 5 * mib, 0x7ffff0000000, 0x7ffff0000000 + mib - 16};
    for (auto a : addresses) EXPECT_TRUE(set.insert(a));
    for (auto a : addresses) EXPECT_TRUE(set.contains(a));
    EXPECT_FALSE(set.contains(mib - 32));
    EXPECT_EQ(set.chunks(), 4u);
}

TEST(AddressBitmap, MatchesReferenceSetAndEnumeratesEveryMember) {
    AddressBitmap set;
    std::set<std::uintptr_t> reference;
    std::mt19937_64 rng(2026);
    // A heap-like spread: a few hundred 1 MiB regions, 16-byte aligned objects.
    for (int i = 0; i < 300000; ++i) {
        std::uintptr_t region = 0x7f0000000000ULL + (rng() % 300) * (1ULL << 20);
        std::uintptr_t address = region + (rng() % 65536) * 16;
        EXPECT_EQ(set.insert(address), reference.insert(address).second);
    }
    EXPECT_EQ(set.size(), reference.size());
    for (std::uintptr_t address : reference) ASSERT_TRUE(set.contains(address));
    std::set<std::uintptr_t> enumerated;
    set.for_each([&](std::uintptr_t address) { enumerated.insert(address); });
    EXPECT_EQ(enumerated, reference);
    // 300 chunks of 8 KiB, plus the chunk table.
    EXPECT_LE(set.memory_bytes(), 300u * 8192u + 64u * 1024u);
}
