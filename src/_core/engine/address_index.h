// address_index.h — maps object addresses to dense node ids for heap walks.
//
// Open addressing with linear probing over a table of 4-byte node ids; the key of a slot is
// read from the caller's node -> address array, so the index costs 4 bytes per slot (about 7
// bytes per node at its load of at most 0.6) instead of a node-based map's 30 or more.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace memslim::engine {

class AddressIndex {
  public:
    static constexpr std::uint32_t kNone = 0xFFFFFFFFu;

    explicit AddressIndex(std::size_t expected = 0) { reset(expected); }

    // The node of `address`, or kNone.
    [[nodiscard]] std::uint32_t find(std::uintptr_t address,
                                     std::span<const std::uintptr_t> addresses) const {
        if (slots_.empty()) return kNone;
        for (std::size_t i = slot(address);; i = (i + 1) & mask_) {
            const std::uint32_t node = slots_[i];
            if (node == kNone || addresses[node] == address) return node;
        }
    }

    // Starts loading the slot where `address` would be (a lookup is a cache miss into a table
    // as large as the heap's object count; several prefetched at once overlap).
    void prefetch(std::uintptr_t address) const {
        if (!slots_.empty()) __builtin_prefetch(&slots_[slot(address)]);
    }

    // The node of `address`; if it has none, appends it to `addresses` and returns its new node
    // (the second member says whether it was inserted).
    std::pair<std::uint32_t, bool> find_or_add(std::uintptr_t address,
                                               std::vector<std::uintptr_t>& addresses) {
        if ((count_ + 1) * 5 > slots_.size() * 3) grow(addresses);
        for (std::size_t i = slot(address);; i = (i + 1) & mask_) {
            const std::uint32_t node = slots_[i];
            if (node == kNone) {
                const auto added = static_cast<std::uint32_t>(addresses.size());
                addresses.push_back(address);
                slots_[i] = added;
                ++count_;
                return {added, true};
            }
            if (addresses[node] == address) return {node, false};
        }
    }

    // Indexes every address of `addresses` (distinct) from scratch.
    void rebuild(std::span<const std::uintptr_t> addresses, std::uint32_t first = 0) {
        reset(addresses.size());
        for (std::uint32_t node = first; node < addresses.size(); ++node) place(addresses, node);
    }

    void release() {
        std::vector<std::uint32_t>().swap(slots_);
        count_ = 0;
    }

    [[nodiscard]] std::size_t memory_bytes() const {
        return slots_.capacity() * sizeof(std::uint32_t);
    }

  private:
    [[nodiscard]] std::size_t slot(std::uintptr_t address) const {
        return static_cast<std::size_t>(((address >> 4) * 0x9E3779B97F4A7C15ULL) >> shift_);
    }

    void reset(std::size_t expected) {
        std::size_t capacity = 64;
        while (capacity * 3 < expected * 5) capacity *= 2;
        slots_.assign(capacity, kNone);
        mask_ = capacity - 1;
        shift_ = 64;
        for (std::size_t c = capacity; c > 1; c >>= 1) --shift_;
        count_ = 0;
    }

    void place(std::span<const std::uintptr_t> addresses, std::uint32_t node) {
        std::size_t i = slot(addresses[node]);
        while (slots_[i] != kNone) i = (i + 1) & mask_;
        slots_[i] = node;
        ++count_;
    }

    void grow(std::span<const std::uintptr_t> addresses) {
        std::vector<std::uint32_t> old;
        old.swap(slots_);
        const std::size_t count = count_;
        reset(count * 2 + 1);
        for (std::uint32_t node : old) {
            if (node != kNone) place(addresses, node);
        }
    }

    std::vector<std::uint32_t> slots_;
    std::size_t mask_ = 0;
    unsigned shift_ = 64;
    std::size_t count_ = 0;
};

}  // namespace memslim::engine
