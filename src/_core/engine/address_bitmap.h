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
#include <memory>
#include <vector>

namespace memslim::engine {

class AddressBitmap {
  public:
    static constexpr unsigned kSlotShift = 4;    // 16-byte slots
    static constexpr unsigned kChunkShift = 20;  // 1 MiB chunks
    static constexpr std::size_t kBitsPerChunk = std::size_t{1} << (kChunkShift - kSlotShift);
    static constexpr std::size_t kWordsPerChunk = kBitsPerChunk / 64;

    AddressBitmap() = default;
    AddressBitmap(const AddressBitmap&) = delete;
    AddressBitmap& operator=(const AddressBitmap&) = delete;
    AddressBitmap(AddressBitmap&&) = default;
    AddressBitmap& operator=(AddressBitmap&&) = default;

    // Adds `address`. Returns true if its slot was not set before.
    bool insert(std::uintptr_t address) {
        std::uint64_t* words = chunk(address >> kChunkShift, /*create=*/true);
        const std::size_t bit = (address >> kSlotShift) & (kBitsPerChunk - 1);
        const std::uint64_t mask = std::uint64_t{1} << (bit & 63);
        std::uint64_t& word = words[bit >> 6];
        if (word & mask) return false;
        word |= mask;
        ++size_;
        return true;
    }

    [[nodiscard]] bool contains(std::uintptr_t address) const;
    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] std::size_t chunks() const { return chunk_ids_.size(); }
    [[nodiscard]] std::size_t memory_bytes() const {
        return chunks() * kWordsPerChunk * sizeof(std::uint64_t) + table_.size() * sizeof(Slot);
    }

    // Calls fn(address) for each member, in address order within a chunk.
    template <typename Fn>
    void for_each(Fn&& fn) const {
        for (std::size_t c = 0; c < chunk_ids_.size(); ++c) {
            const std::uintptr_t base = chunk_ids_[c] << kChunkShift;
            const std::uint64_t* words = storage_[c].get();
            for (std::size_t w = 0; w < kWordsPerChunk; ++w) {
                for (std::uint64_t bits = words[w]; bits != 0; bits &= bits - 1) {
                    const std::size_t bit =
                        w * 64 + static_cast<std::size_t>(__builtin_ctzll(bits));
                    fn(base + (bit << kSlotShift));
                }
            }
        }
    }

  private:
    struct Slot {
        std::uintptr_t chunk_id_plus_one = 0;  // 0: empty
        std::uint64_t* words = nullptr;
    };

    std::uint64_t* chunk(std::uintptr_t chunk_id, bool create) {
        if (chunk_id == last_id_) return last_words_;
        std::uint64_t* words = find_or_add(chunk_id, create);
        last_id_ = chunk_id;
        last_words_ = words;
        return words;
    }
    std::uint64_t* find_or_add(std::uintptr_t chunk_id, bool create);
    [[nodiscard]] const std::uint64_t* find(std::uintptr_t chunk_id) const;
    void grow_table();

    std::vector<Slot> table_;  // open addressing by chunk id, at most half full
    std::vector<std::unique_ptr<std::uint64_t[]>> storage_;
    std::vector<std::uintptr_t> chunk_ids_;
    std::uintptr_t last_id_ = ~std::uintptr_t{0};
    std::uint64_t* last_words_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace memslim::engine
