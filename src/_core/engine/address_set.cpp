// address_set.cpp — open-addressing address set (see address_set.h).
#include "engine/address_set.h"

#include <algorithm>
#include <bit>
#include <stdexcept>

namespace memslim::engine {

namespace {
constexpr std::size_t kMinCapacity = 64;

std::size_t capacity_for(std::size_t expected) {
    // Keep the load factor at or below one half.
    std::size_t wanted = expected * 2;
    return std::bit_ceil(wanted < kMinCapacity ? kMinCapacity : wanted);
}
}  // namespace

AddressSet::AddressSet(std::size_t expected) { rehash(capacity_for(expected)); }

void AddressSet::reserve(std::size_t expected) {
    std::size_t wanted = capacity_for(expected);
    if (wanted > slots_.size()) rehash(wanted);
}

void AddressSet::clear() {
    std::fill(slots_.begin(), slots_.end(), kEmpty);
    size_ = 0;
}

bool AddressSet::insert(std::uintptr_t address) {
    if (address == kEmpty) throw std::invalid_argument("AddressSet cannot hold address 0");
    if ((size_ + 1) * 2 > slots_.size()) rehash(slots_.size() * 2);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = home(address);; i = (i + 1) & mask) {
        std::uintptr_t slot = slots_[i];
        if (slot == address) return false;
        if (slot == kEmpty) {
            slots_[i] = address;
            ++size_;
            return true;
        }
    }
}

bool AddressSet::contains(std::uintptr_t address) const {
    if (address == kEmpty) return false;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = home(address);; i = (i + 1) & mask) {
        std::uintptr_t slot = slots_[i];
        if (slot == address) return true;
        if (slot == kEmpty) return false;
    }
}

void AddressSet::rehash(std::size_t new_capacity) {
    std::vector<std::uintptr_t> old = std::move(slots_);
    slots_.assign(new_capacity, kEmpty);
    shift_ = 64 - static_cast<unsigned>(std::countr_zero(new_capacity));
    const std::size_t mask = new_capacity - 1;
    for (std::uintptr_t address : old) {
        if (address == kEmpty) continue;
        std::size_t i = home(address);
        while (slots_[i] != kEmpty) i = (i + 1) & mask;
        slots_[i] = address;
    }
}

}  // namespace memslim::engine
