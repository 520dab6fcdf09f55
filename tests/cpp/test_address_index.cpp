// Tests for engine/address_index.h.
#include "engine/address_index.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>

namespace memslim::engine {
namespace {

TEST(AddressIndex, AddsEachAddressOnceAndFindsIt) {
    std::vector<std::uintptr_t> addresses{0};  // node 0 is taken (a virtual root)
    AddressIndex index(4);
    std::unordered_map<std::uintptr_t, std::uint32_t> truth;
    std::mt19937_64 random(7);
    for (int i = 0; i < 100000; ++i) {
        const std::uintptr_t address = 0x7f0000000000ULL + (random() % 60000) * 16;
        const auto [node, added] = index.find_or_add(address, addresses);
        auto [it, inserted] = truth.try_emplace(address, node);
        EXPECT_EQ(added, inserted);
        EXPECT_EQ(node, it->second);
        EXPECT_EQ(addresses[node], address);
    }
    EXPECT_EQ(addresses.size(), truth.size() + 1);
    for (const auto& [address, node] : truth) EXPECT_EQ(index.find(address, addresses), node);
    EXPECT_EQ(index.find(0x10, addresses), AddressIndex::kNone);
    EXPECT_LE(index.memory_bytes(), addresses.size() * 4 * 4);
}

TEST(AddressIndex, RebuildAfterReleaseFindsTheSameNodes) {
    std::vector<std::uintptr_t> addresses{0};
    AddressIndex index;
    for (std::uintptr_t a = 1; a <= 5000; ++a) index.find_or_add(a * 48, addresses);
    index.release();
    EXPECT_EQ(index.find(48, addresses), AddressIndex::kNone);
    index.rebuild(addresses, 1);
    for (std::uint32_t node = 1; node < addresses.size(); ++node) {
        EXPECT_EQ(index.find(addresses[node], addresses), node);
    }
    EXPECT_EQ(index.find(0, addresses), AddressIndex::kNone);
}

}  // namespace
}  // namespace memslim::engine
