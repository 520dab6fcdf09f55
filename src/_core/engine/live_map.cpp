// live_map.cpp — the live-block map of exact mode (see live_map.h).
#include "engine/live_map.h"

#include <bit>

namespace memslim::engine {

// Small at first: every recording makes two (exact mode's large blocks, sample mode's samples),
// and 65,536 slots were 2 MiB of resident memory before the program had allocated anything.
LiveMap::LiveMap() {
    rehash(1 << 8);
}

void LiveMap::rehash(std::size_t capacity) {
    // The new table first: when it cannot be had (std::bad_alloc), the map is as it was.
    std::vector<Slot> old(capacity, Slot{});
    old.swap(slots_);
    shift_ = 64 - static_cast<unsigned>(std::countr_zero(capacity));
    const std::size_t mask = capacity - 1;
    for (const Slot& slot : old) {
        if (slot.address == 0) continue;
        std::size_t i = home(slot.address);
        while (slots_[i].address != 0) i = (i + 1) & mask;
        slots_[i] = slot;
    }
}

void LiveMap::insert(std::uintptr_t address, std::uint64_t size, std::uint32_t site) {
    if ((size_ + 1) * 2 > slots_.size()) rehash(slots_.size() * 2);
    if (site > kMaxSite) site = kMaxSite;
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = home(address);
    while (slots_[i].address != 0 && slots_[i].address != address) i = (i + 1) & mask;
    if (slots_[i].address == 0) ++size_;
    slots_[i] = Slot{address, (size << kSiteBits) | site};
}

bool LiveMap::find(std::uintptr_t address, LiveBlock* block) const {
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = home(address);; i = (i + 1) & mask) {
        const Slot& slot = slots_[i];
        if (slot.address == 0) return false;
        if (slot.address == address) {
            block->size = slot.packed >> kSiteBits;
            block->site = static_cast<std::uint32_t>(slot.packed & kMaxSite);
            return true;
        }
    }
}

bool LiveMap::erase(std::uintptr_t address, LiveBlock* block) {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = home(address);
    while (true) {
        if (slots_[i].address == 0) return false;
        if (slots_[i].address == address) break;
        i = (i + 1) & mask;
    }
    block->size = slots_[i].packed >> kSiteBits;
    block->site = static_cast<std::uint32_t>(slots_[i].packed & kMaxSite);
    // Backward-shift deletion: pull later entries of the cluster into the hole when their home
    // slot does not lie cyclically between the hole and their current position.
    std::size_t hole = i;
    for (std::size_t j = (i + 1) & mask; slots_[j].address != 0; j = (j + 1) & mask) {
        std::size_t want = home(slots_[j].address);
        bool movable = (hole <= j) ? (want <= hole || want > j) : (want <= hole && want > j);
        if (movable) {
            slots_[hole] = slots_[j];
            hole = j;
        }
    }
    slots_[hole] = Slot{};
    --size_;
    return true;
}

}  // namespace memslim::engine
