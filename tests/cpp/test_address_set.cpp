// Unit tests for engine/address_set.
#include "engine/address_set.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <stdexcept>

using memslim::engine::AddressSet;

TEST(AddressSet, InsertReportsNewOnlyOnce) {
    AddressSet set;
    EXPECT_TRUE(set.insert(0x1000));
    EXPECT_FALSE(set.insert(0x1000));
    EXPECT_TRUE(set.insert(0x1010));
    EXPECT_EQ(set.size(), 2u);
    EXPECT_TRUE(set.contains(0x1000));
    EXPECT_TRUE(set.contains(0x1010));
    EXPECT_FALSE(set.contains(0x1020));
}

TEST(AddressSet, ZeroIsRejected) {
    AddressSet set;
    EXPECT_THROW(set.insert(0), std::invalid_argument);
    EXPECT_FALSE(set.contains(0));
}

TEST(AddressSet, GrowsAndKeepsEveryMemberAgainstReference) {
    // Aligned addresses, like heap objects, plus random ones; compare with std::set.
    AddressSet set;
    std::set<std::uintptr_t> reference;
    std::mt19937_64 rng(12345);
    for (int i = 0; i < 200000; ++i) {
        std::uintptr_t address = (i % 2 == 0) ? 0x7f0000000000ULL + 16ULL * (i / 2)
                                              : (rng() | 1ULL);
        EXPECT_EQ(set.insert(address), reference.insert(address).second);
    }
    EXPECT_EQ(set.size(), reference.size());
    EXPECT_LE(set.size() * 2, set.capacity());
    for (std::uintptr_t address : reference) ASSERT_TRUE(set.contains(address));
    std::size_t visited = 0;
    set.for_each([&](std::uintptr_t address) {
        ++visited;
        EXPECT_TRUE(reference.count(address));
    });
    EXPECT_EQ(visited, reference.size());
}

TEST(AddressSet, ClearEmptiesButKeepsCapacity) {
    AddressSet set(1000);
    const auto capacity = set.capacity();
    for (std::uintptr_t a = 16; a < 16 * 500; a += 16) set.insert(a);
    set.clear();
    EXPECT_EQ(set.size(), 0u);
    EXPECT_EQ(set.capacity(), capacity);
    EXPECT_FALSE(set.contains(16));
    EXPECT_TRUE(set.insert(16));
}

TEST(AddressSet, ReserveAvoidsLaterGrowth) {
    AddressSet set;
    set.reserve(100000);
    const auto capacity = set.capacity();
    for (std::uintptr_t a = 1; a <= 100000; ++a) set.insert(a * 32);
    EXPECT_EQ(set.capacity(), capacity);
}
