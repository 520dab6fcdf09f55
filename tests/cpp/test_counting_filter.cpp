// CountingFilter: a slot's counter saturates instead of wrapping (issue 15: 256 sampled blocks
// in one slot wrapped a uint8 counter to 0, and their frees were then dismissed).
#include "engine/counting_filter.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <vector>

namespace {

using memslim::engine::CountingFilter;

// Addresses that share one slot with 0x10000, found by brute force: a filter holding only
// that address says "maybe" exactly for the addresses of its slot.
std::vector<std::uintptr_t> same_slot(std::size_t count) {
    CountingFilter marker;
    const std::uintptr_t first = 0x10000;
    marker.add(first);
    std::vector<std::uintptr_t> found;
    for (std::uintptr_t address = first; found.size() < count; address += 16) {
        if (marker.may_contain(address)) found.push_back(address);
    }
    return found;
}

TEST(CountingFilter, AnswersNoForAddressesNeverAdded) {
    CountingFilter filter;
    EXPECT_FALSE(filter.may_contain(0x1000));
    filter.add(0x1000);
    EXPECT_TRUE(filter.may_contain(0x1000));
    filter.remove(0x1000);
    EXPECT_FALSE(filter.may_contain(0x1000));
}

TEST(CountingFilter, ManyBlocksInOneSlotNeverWrapToZero) {
    CountingFilter filter;
    const std::vector<std::uintptr_t> addresses = same_slot(600);
    for (std::size_t i = 0; i < addresses.size(); ++i) {
        filter.add(addresses[i]);
        ASSERT_TRUE(filter.may_contain(addresses[0])) << "after " << i + 1 << " blocks";
    }
    // Each block still live must be found: the slot never says "not sampled" again.
    for (std::size_t i = 0; i + 1 < addresses.size(); ++i) {
        filter.remove(addresses[i]);
        ASSERT_TRUE(filter.may_contain(addresses.back())) << "after " << i + 1 << " frees";
    }
}

TEST(CountingFilter, CountsExactlyBelowSaturation) {
    CountingFilter filter;
    const std::vector<std::uintptr_t> addresses = same_slot(200);
    for (std::uintptr_t a : addresses) filter.add(a);
    for (std::size_t i = 0; i + 1 < addresses.size(); ++i) filter.remove(addresses[i]);
    EXPECT_TRUE(filter.may_contain(addresses.back()));
    filter.remove(addresses.back());
    EXPECT_FALSE(filter.may_contain(addresses.back()));
}

// Neighbouring slots for neighbouring blocks must not make the filter say "maybe" more often:
// sampled blocks spread over a heap of many arenas (windows far apart), and frees of the
// blocks around them. The truth is the set of sampled addresses; "maybe" for any other is a
// false positive, which costs a lookup under the lock.
TEST(CountingFilter, FalsePositivesStayRareOverAWideHeap) {
    std::mt19937_64 random(7);
    CountingFilter filter;  // 65,536 slots
    std::set<std::uintptr_t> sampled;
    const std::uintptr_t heap = 0x7f0000000000;
    std::uniform_int_distribution<std::uintptr_t> offset(0, (std::uintptr_t{1} << 32) / 16 - 1);
    while (sampled.size() < 1000) sampled.insert(heap + offset(random) * 16);
    for (std::uintptr_t a : sampled) filter.add(a);
    // Other blocks: anywhere in the heap, and the 16-byte blocks next to each sampled one.
    std::size_t others = 0;
    std::size_t maybe = 0;
    auto check = [&](std::uintptr_t a) {
        if (sampled.count(a) != 0) return;
        ++others;
        maybe += filter.may_contain(a) ? 1 : 0;
    };
    for (int i = 0; i < 200000; ++i) check(heap + offset(random) * 16);
    const double anywhere = static_cast<double>(maybe) / static_cast<double>(others);
    // 1,000 of 65,536 slots taken: about 1.5% if blocks land on slots evenly.
    EXPECT_LT(anywhere, 0.03);
    others = 0;
    maybe = 0;
    for (std::uintptr_t a : sampled) {
        for (std::uintptr_t step = 16; step <= 256; step += 16) check(a + step);
    }
    // A 64-byte line shares its slot: up to 3 of these 16 neighbours, a fifth at most.
    EXPECT_LT(static_cast<double>(maybe) / static_cast<double>(others), 0.25);
    for (std::uintptr_t a : sampled) EXPECT_TRUE(filter.may_contain(a));
}

}  // namespace
