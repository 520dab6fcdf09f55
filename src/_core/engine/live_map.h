// live_map.h — every live block: address -> (requested size, site), for exact mode.
//
// Open addressing with linear probing and backward-shift deletion (no tombstones), at most half
// full. An entry is 16 bytes: the address, and the size and site packed in one word (sizes up to
// 1 TiB, sites up to 2^24 - 1; larger site ids are clamped to the last one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace memslim::engine {

struct LiveBlock {
    std::uint64_t size = 0;
    std::uint32_t site = 0;
};

class LiveMap {
  public:
    static constexpr unsigned kSiteBits = 24;
    static constexpr std::uint32_t kMaxSite = (1u << kSiteBits) - 1;

    LiveMap();

    // Records a new block. `address` must be non-zero and not live already.
    void insert(std::uintptr_t address, std::uint64_t size, std::uint32_t site);
    // Removes `address`; returns false (and leaves *block alone) if it was not live.
    bool erase(std::uintptr_t address, LiveBlock* block);
    [[nodiscard]] bool find(std::uintptr_t address, LiveBlock* block) const;
    // Calls fn(address, LiveBlock) for each live block, in no particular order.
    template <class Fn>
    void for_each(Fn&& fn) const {
        for (const Slot& slot : slots_) {
            if (slot.address == 0) continue;
            fn(slot.address, LiveBlock{slot.packed >> kSiteBits,
                                       static_cast<std::uint32_t>(slot.packed & kMaxSite)});
        }
    }
    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] std::size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot); }

  private:
    struct Slot {
        std::uintptr_t address = 0;
        std::uint64_t packed = 0;  // size << kSiteBits | site
    };
    [[nodiscard]] std::size_t home(std::uintptr_t address) const {
        return static_cast<std::size_t>(((address >> 4) * 0x9E3779B97F4A7C15ULL) >> shift_);
    }
    void rehash(std::size_t capacity);

    std::vector<Slot> slots_;
    std::size_t size_ = 0;
    unsigned shift_ = 64;
};

}  // namespace memslim::engine
