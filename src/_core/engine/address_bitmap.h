// address_bitmap.h — a set of object addresses as one bit per 16-byte slot of address space.
//
// Python objects are at least 16 bytes long, so two objects never start in the same 16-byte
// slot. The address space is cut into 1 MiB chunks; a chunk that holds a member gets a bitmap
// of 65,536 bits (8 KiB). A heap of 300 MB needs about 2.4 MB of bitmaps — small enough to
// stay in cache, where a hash set of millions of addresses would miss on nearly every lookup.
// Objects allocated together sit in the same chunk, so the last chunk used is remembered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/region_directory.h"

namespace memslim::engine {

class AddressBitmap {
  public:
    static constexpr unsigned kSlotShift = 4;    // 16-byte slots
    static constexpr unsigned kChunkShift = 20;  // 1 MiB chunks
    static constexpr std::size_t kBitsPerChunk = std::size_t{1} << (kChunkShift - kSlotShift);
    static constexpr std::size_t kWordsPerChunk = kBitsPerChunk / 64;

    // Adds `address`. Returns true if its slot was not set before.
    bool insert(std::uintptr_t address) {
        std::uint64_t* words = chunks_.get_or_create(address >> kChunkShift);
        const std::size_t bit = (address >> kSlotShift) & (kBitsPerChunk - 1);
        const std::uint64_t mask = std::uint64_t{1} << (bit & 63);
        std::uint64_t& word = words[bit >> 6];
        if (word & mask) return false;
        word |= mask;
        ++size_;
        return true;
    }

    [[nodiscard]] bool contains(std::uintptr_t address) const {
        const std::uint64_t* words = chunks_.find(address >> kChunkShift);
        if (words == nullptr) return false;
        const std::size_t bit = (address >> kSlotShift) & (kBitsPerChunk - 1);
        return (words[bit >> 6] >> (bit & 63)) & 1;
    }
    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] std::size_t chunks() const { return chunks_.regions(); }
    [[nodiscard]] std::size_t memory_bytes() const { return chunks_.memory_bytes(); }

    // Calls fn(address) for each member, in address order within a chunk.
    template <typename Fn>
    void for_each(Fn&& fn) const {
        chunks_.for_each([&](std::uintptr_t chunk_id, const std::uint64_t* words) {
            const std::uintptr_t base = chunk_id << kChunkShift;
            for (std::size_t w = 0; w < kWordsPerChunk; ++w) {
                for (std::uint64_t bits = words[w]; bits != 0; bits &= bits - 1) {
                    const std::size_t bit =
                        w * 64 + static_cast<std::size_t>(__builtin_ctzll(bits));
                    fn(base + (bit << kSlotShift));
                }
            }
        });
    }

  private:
    RegionDirectory<std::uint64_t, kWordsPerChunk> chunks_;
    std::size_t size_ = 0;
};

}  // namespace memslim::engine
