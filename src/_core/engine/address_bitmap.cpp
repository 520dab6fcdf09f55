// address_bitmap.cpp — chunk table of the address bitmap (see address_bitmap.h).
#include "engine/address_bitmap.h"

namespace memslim::engine {

namespace {
std::size_t home(std::uintptr_t chunk_id, std::size_t capacity) {
    return static_cast<std::size_t>((chunk_id * 0x9E3779B97F4A7C15ULL) >> 32) & (capacity - 1);
}
}  // namespace

const std::uint64_t* AddressBitmap::find(std::uintptr_t chunk_id) const {
    if (table_.empty()) return nullptr;
    const std::size_t mask = table_.size() - 1;
    for (std::size_t i = home(chunk_id, table_.size());; i = (i + 1) & mask) {
        const Slot& slot = table_[i];
        if (slot.chunk_id_plus_one == chunk_id + 1) return slot.words;
        if (slot.chunk_id_plus_one == 0) return nullptr;
    }
}

std::uint64_t* AddressBitmap::find_or_add(std::uintptr_t chunk_id, bool create) {
    if (const std::uint64_t* words = find(chunk_id); words != nullptr || !create) {
        return const_cast<std::uint64_t*>(words);
    }
    if ((chunk_ids_.size() + 1) * 2 > table_.size()) grow_table();
    storage_.push_back(std::make_unique<std::uint64_t[]>(kWordsPerChunk));  // zeroed
    chunk_ids_.push_back(chunk_id);
    std::uint64_t* words = storage_.back().get();
    const std::size_t mask = table_.size() - 1;
    std::size_t i = home(chunk_id, table_.size());
    while (table_[i].chunk_id_plus_one != 0) i = (i + 1) & mask;
    table_[i] = Slot{chunk_id + 1, words};
    return words;
}

void AddressBitmap::grow_table() {
    std::vector<Slot> old = std::move(table_);
    table_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
    const std::size_t mask = table_.size() - 1;
    for (const Slot& slot : old) {
        if (slot.chunk_id_plus_one == 0) continue;
        std::size_t i = home(slot.chunk_id_plus_one - 1, table_.size());
        while (table_[i].chunk_id_plus_one != 0) i = (i + 1) & mask;
        table_[i] = slot;
    }
}

bool AddressBitmap::contains(std::uintptr_t address) const {
    const std::uint64_t* words = find(address >> kChunkShift);
    if (words == nullptr) return false;
    const std::size_t bit = (address >> kSlotShift) & (kBitsPerChunk - 1);
    return (words[bit >> 6] >> (bit & 63)) & 1;
}

}  // namespace memslim::engine
