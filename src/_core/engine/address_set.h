// address_set.h — a set of non-zero machine addresses, built for "have I seen this object?".
//
// Open addressing with linear probing over a power-of-two table, kept at most half full.
// Objects are 16-byte aligned, so the low four bits carry no information and are shifted out
// before a Fibonacci (multiplicative) hash spreads the rest over the table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace memslim::engine {

class AddressSet {
public:
    explicit AddressSet(std::size_t expected = 0);

    // Adds `address` (must be non-zero). Returns true if it was not in the set before.
    bool insert(std::uintptr_t address);
    [[nodiscard]] bool contains(std::uintptr_t address) const;
    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] std::size_t capacity() const { return slots_.size(); }
    void reserve(std::size_t expected);
    void clear();

    // Calls fn(address) once for each member, in no particular order.
    template <typename Fn>
    void for_each(Fn&& fn) const {
        for (std::uintptr_t slot : slots_) {
            if (slot != kEmpty) fn(slot);
        }
    }

private:
    static constexpr std::uintptr_t kEmpty = 0;
    [[nodiscard]] std::size_t home(std::uintptr_t address) const {
        return static_cast<std::size_t>(((address >> 4) * 0x9E3779B97F4A7C15ULL) >> shift_);
    }
    void rehash(std::size_t new_capacity);

    std::vector<std::uintptr_t> slots_;
    std::size_t size_ = 0;
    unsigned shift_ = 64;  // 64 - log2(capacity)
};

}  // namespace memslim::engine
