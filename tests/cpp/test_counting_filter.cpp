// CountingFilter: a slot's counter saturates instead of wrapping (issue 15: 256 sampled blocks
// in one slot wrapped a uint8 counter to 0, and their frees were then dismissed).
#include "engine/counting_filter.h"

#include <gtest/gtest.h>

#include <cstdint>
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

}  // namespace
