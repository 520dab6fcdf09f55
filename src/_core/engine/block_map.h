// block_map.h — the live-block map of exact mode, built for locality.
//
// Most Python blocks are small (≤ 512 bytes) and pymalloc packs them into 16 KiB pools, so
// blocks allocated one after another sit next to each other. A general hash map keyed by
// address scatters them and costs a cache miss per allocation and per free. Here the address
// space is cut into 16 KiB regions; each region that holds a small block gets a flat array of
// 1,024 four-byte entries, one per 16-byte slot (blocks never share a slot), holding the
// block's site and requested size. The region directory is small and a last-region cache
// catches runs of allocations in the same pool. Large blocks, and sites beyond 2^22, go to a
// general LiveMap.
//
// Memory: 4 KiB per 16 KiB region that holds small blocks (at most a quarter of the small-block
// heap, whatever the block count), against 32 bytes per block for a hash map at half load.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/live_map.h"
#include "engine/region_directory.h"

namespace memslim::engine {

class BlockMap {
  public:
    static constexpr std::uint64_t kSmallMax = 512;  // pymalloc's small-request threshold
    static constexpr unsigned kRegionShift = 14;     // 16 KiB regions
    static constexpr unsigned kSlotShift = 4;        // 16-byte slots
    static constexpr std::size_t kSlots = std::size_t{1} << (kRegionShift - kSlotShift);
    static constexpr unsigned kSizeBits = 10;  // sizes 0..1023 (small ones fit)
    static constexpr std::uint32_t kMaxSmallSite = (1u << (32 - kSizeBits)) - 1;

    BlockMap() = default;
    BlockMap(const BlockMap&) = delete;
    BlockMap& operator=(const BlockMap&) = delete;

    void insert(std::uintptr_t address, std::uint64_t size, std::uint32_t site) {
        if (size <= kSmallMax && site <= kMaxSmallSite &&
            (address & ((1u << kSlotShift) - 1)) == 0) {
            std::uint32_t* entries = regions_.get_or_create(address >> kRegionShift);
            std::uint32_t& entry = entries[slot(address)];
            if (entry == 0) ++small_blocks_;
            // +1 keeps a size-0 block of site 0 distinct from an empty slot.
            entry = (site << kSizeBits | static_cast<std::uint32_t>(size)) + 1;
            return;
        }
        large_.insert(address, size, site);
    }

    bool erase(std::uintptr_t address, LiveBlock* block) {
        if ((address & ((1u << kSlotShift) - 1)) == 0) {
            if (std::uint32_t* entries = regions_.get(address >> kRegionShift)) {
                std::uint32_t& entry = entries[slot(address)];
                if (entry != 0) {
                    const std::uint32_t value = entry - 1;
                    block->size = value & ((1u << kSizeBits) - 1);
                    block->site = value >> kSizeBits;
                    entry = 0;
                    --small_blocks_;
                    return true;
                }
            }
        }
        return large_.erase(address, block);
    }

    [[nodiscard]] bool find(std::uintptr_t address, LiveBlock* block) const {
        if ((address & ((1u << kSlotShift) - 1)) == 0) {
            if (const std::uint32_t* entries = regions_.find(address >> kRegionShift)) {
                const std::uint32_t entry = entries[slot(address)];
                if (entry != 0) {
                    block->size = (entry - 1) & ((1u << kSizeBits) - 1);
                    block->site = (entry - 1) >> kSizeBits;
                    return true;
                }
            }
        }
        return large_.find(address, block);
    }

    // Calls fn(address, LiveBlock) for each block kept in the general map: every block over
    // kSmallMax bytes (and the few small ones that did not fit a region's entry).
    template <class Fn>
    void for_each_large(Fn&& fn) const {
        large_.for_each(fn);
    }
    [[nodiscard]] std::size_t size() const { return small_blocks_ + large_.size(); }
    [[nodiscard]] std::size_t regions() const { return regions_.regions(); }
    [[nodiscard]] std::size_t memory_bytes() const {
        return regions_.memory_bytes() + large_.memory_bytes();
    }

  private:
    static std::size_t slot(std::uintptr_t address) {
        return (address >> kSlotShift) & (kSlots - 1);
    }

    RegionDirectory<std::uint32_t, kSlots> regions_;
    std::size_t small_blocks_ = 0;
    LiveMap large_;
};

}  // namespace memslim::engine
