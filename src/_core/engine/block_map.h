// block_map.h — the live-block map of exact mode, built for locality and size.
//
// Most Python blocks are small (≤ 512 bytes) and pymalloc packs them into 16 KiB pools, so
// blocks allocated one after another sit next to each other. A general hash map keyed by
// address scatters them and costs a cache miss per allocation and per free. Here the address
// space is cut into 16 KiB regions; a region that holds small blocks gets a flat array of
// four-byte entries (the block's site and requested size), one per possible block start.
//
// A region's layout is a stride and a phase: the blocks it holds start at `phase + k * stride`.
// A pymalloc pool is one 16 KiB region (CPython 3.10+ aligns pools to their size) whose blocks
// all have one size class, after a 48-byte header: laid out by the first block it receives, a
// pool of 96-byte blocks needs 171 entries (684 bytes) where a slot per 16 bytes needs 1,024
// (4 KiB). A strided region that empties takes the layout of its next block: pymalloc reuses an
// empty pool for any size class. Entries never collide: within one layout, distinct addresses
// have distinct indices.
//
// A block that does not fit the layout while the region holds others (the C allocator's
// regions mix sizes) goes to the general map, and the region keeps its layout. A region whose
// layouts keep emptying before they fill (kMaxShortLayouts in a row: one spot reused for
// blocks of alternating sizes) gives up its entries and sends every block to the general map.
// Such regions once turned dense instead, an entry per 16-byte slot for good: on scikit-learn's
// bench job 1,247 dense regions held 20,000 blocks in 5.1 MB, 250 bytes a block, where the
// general map takes 32 to 64.
//
// Large blocks, unaligned ones and sites beyond 2^22 go to the general LiveMap too. The region
// table is small and a last-region cache catches runs of allocations in the same pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/live_map.h"
#include "engine/region_directory.h"

namespace memslim::engine {

class BlockMap {
  public:
    static constexpr std::uint64_t kSmallMax = 512;  // pymalloc's small-request threshold
    static constexpr unsigned kRegionShift = 14;     // 16 KiB regions
    static constexpr std::uint32_t kRegionBytes = 1u << kRegionShift;
    static constexpr std::uint32_t kAlign = 16;      // every small block's alignment
    static constexpr unsigned kSizeBits = 10;        // sizes 0..1023 (small ones fit)
    static constexpr std::uint32_t kMaxSmallSite = (1u << (32 - kSizeBits)) - 1;
    // A layout that held fewer blocks than kMinFill before the region needed another is short;
    // kMaxShortLayouts of them in a row send the region's blocks to the general map: the C
    // allocator reusing one spot for blocks of alternating sizes would otherwise cost a new
    // entry array per block. (One short life of a pool, among long ones, does not.)
    static constexpr std::uint16_t kMinFill = 8;
    static constexpr std::uint8_t kMaxShortLayouts = 4;

    BlockMap() = default;
    BlockMap(const BlockMap&) = delete;
    BlockMap& operator=(const BlockMap&) = delete;

    // Forgets every block and frees what held them.
    void clear() {
        regions_ = RegionTable<Region>{};
        entry_bytes_ = 0;
        small_blocks_ = 0;
        large_ = LiveMap{};
    }

    void insert(std::uintptr_t address, std::uint64_t size, std::uint32_t site) {
        if (size <= kSmallMax && site <= kMaxSmallSite && (address & (kAlign - 1)) == 0) {
            Region& region = regions_.get_or_create(address >> kRegionShift);
            const std::uint32_t offset = offset_of(address);
            std::uint32_t index = 0;
            if ((!region.index_of(offset, &index) ||
                 (region.live == 0 && region.stride != stride_of(size))) &&
                !lay_out(region, offset, size, &index)) {
                large_.insert(address, size, site);
                return;
            }
            std::uint32_t& entry = region.entries[index];
            if (entry == 0) {
                ++region.live;
                ++small_blocks_;
            }
            if (region.filled < kMinFill) ++region.filled;
            // +1 keeps a size-0 block of site 0 distinct from an empty slot.
            entry = (site << kSizeBits | static_cast<std::uint32_t>(size)) + 1;
            return;
        }
        large_.insert(address, size, site);
    }

    bool erase(std::uintptr_t address, LiveBlock* block) {
        if ((address & (kAlign - 1)) == 0) {
            if (Region* region = regions_.get(address >> kRegionShift)) {
                std::uint32_t index = 0;
                if (region->index_of(offset_of(address), &index)) {
                    std::uint32_t& entry = region->entries[index];
                    if (entry != 0) {
                        *block = decode(entry);
                        entry = 0;
                        --region->live;
                        --small_blocks_;
                        return true;
                    }
                }
            }
        }
        return large_.erase(address, block);
    }

    [[nodiscard]] bool find(std::uintptr_t address, LiveBlock* block) const {
        if ((address & (kAlign - 1)) == 0) {
            if (const Region* region = regions_.find(address >> kRegionShift)) {
                std::uint32_t index = 0;
                if (region->index_of(offset_of(address), &index) && region->entries[index] != 0) {
                    *block = decode(region->entries[index]);
                    return true;
                }
            }
        }
        return large_.find(address, block);
    }

    // Calls fn(address, LiveBlock) for each block kept in the general map: every block over
    // kSmallMax bytes, and the small ones that did not fit a region's layout.
    template <class Fn>
    void for_each_large(Fn&& fn) const {
        large_.for_each(fn);
    }
    [[nodiscard]] std::size_t size() const { return small_blocks_ + large_.size(); }
    [[nodiscard]] std::size_t regions() const { return regions_.regions(); }
    // Regions that gave up their entries: every block in them is in the general map.
    [[nodiscard]] std::size_t general_regions() const {
        std::size_t general = 0;
        regions_.for_each([&](std::uintptr_t, const Region& region) {
            general += region.stride == kGeneral ? 1 : 0;
        });
        return general;
    }
    [[nodiscard]] std::size_t memory_bytes() const {
        return entry_bytes_ + regions_.memory_bytes() + large_.memory_bytes();
    }

  private:
    struct Region {
        std::unique_ptr<std::uint32_t[]> entries;
        std::uint32_t magic = 0;        // ceil(2^32 / stride), to divide by the stride
        std::uint16_t stride = 0;       // 0: no layout yet; kGeneral: none ever again
        std::uint16_t phase = 0xFFFF;   // no offset fits a region without a layout
        std::uint16_t count = 0;        // entries
        std::uint16_t live = 0;         // entries in use
        std::uint16_t filled = 0;       // blocks inserted since the layout was set (saturates)
        std::uint8_t short_layouts = 0;  // layouts in a row that held fewer than kMinFill

        // The entry of the block starting `offset` bytes into the region; false if no block
        // of this layout starts there. (offset - phase) * magic / 2^32 is the exact quotient
        // for multiples of the stride: offset < 2^14 and magic * stride - 2^32 < 2^9.
        bool index_of(std::uint32_t offset, std::uint32_t* index) const {
            if (offset < phase) return false;
            const std::uint32_t from_phase = offset - phase;
            const auto k = static_cast<std::uint32_t>((std::uint64_t{from_phase} * magic) >> 32);
            if (k * stride != from_phase) return false;
            *index = k;
            return true;
        }
    };

    static std::uint32_t offset_of(std::uintptr_t address) {
        return static_cast<std::uint32_t>(address & (kRegionBytes - 1));
    }
    static constexpr std::uint16_t kGeneral = 0xFFFF;  // a region's stride: no layout, no entries

    static std::uint32_t stride_of(std::uint64_t size) {  // pymalloc's size class
        return size <= kAlign ? kAlign : static_cast<std::uint32_t>((size + 15) & ~15ULL);
    }
    static LiveBlock decode(std::uint32_t entry) {
        return LiveBlock{(entry - 1) & ((1u << kSizeBits) - 1), (entry - 1) >> kSizeBits};
    }

    // Gives `region` the layout of a block of `size` at `offset` and sets *index to its entry;
    // false if the block goes to the general map instead: the region holds blocks of another
    // layout (kept), or its layouts kept emptying before they filled (it turns kGeneral).
    // Rare (a region's first block, pool reuse, mixed sizes): kept out of insert's inlined path.
    [[gnu::cold, gnu::noinline]] bool lay_out(Region& region, std::uint32_t offset,
                                              std::uint64_t size, std::uint32_t* index) {
        if (region.live > 0 || region.stride == kGeneral) return false;
        if (region.count != 0) {
            region.short_layouts = region.filled < kMinFill ? region.short_layouts + 1 : 0;
        }
        if (region.short_layouts >= kMaxShortLayouts) {
            entry_bytes_ -= std::size_t{region.count} * sizeof(std::uint32_t);
            region.entries.reset();
            region.stride = kGeneral;
            region.phase = 0xFFFF;
            region.count = 0;
            return false;
        }
        const std::uint32_t stride = stride_of(size);
        const std::uint32_t phase = offset % stride;
        const std::uint32_t count = (kRegionBytes - phase + stride - 1) / stride;
        if (count != region.count) {  // the same count: its entries are all zero, kept
            region.entries = std::make_unique<std::uint32_t[]>(count);  // zeroed
            entry_bytes_ += std::size_t{count} * sizeof(std::uint32_t);
            entry_bytes_ -= std::size_t{region.count} * sizeof(std::uint32_t);
        }
        region.magic = static_cast<std::uint32_t>(((std::uint64_t{1} << 32) + stride - 1) / stride);
        region.stride = static_cast<std::uint16_t>(stride);
        region.phase = static_cast<std::uint16_t>(phase);
        region.count = static_cast<std::uint16_t>(count);
        region.filled = 0;
        *index = (offset - phase) / stride;
        return true;
    }

    RegionTable<Region> regions_;
    std::size_t entry_bytes_ = 0;  // all regions' entry arrays
    std::size_t small_blocks_ = 0;
    LiveMap large_;
};

}  // namespace memslim::engine
