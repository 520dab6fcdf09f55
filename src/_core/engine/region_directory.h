// region_directory.h — tables keyed by region of address space: RegionTable keeps one small
// value per region inline (the block map's per-pool layout), RegionDirectory a zero-filled array
// of `kWords` words per region (the address bitmap's 1 MiB chunks of seen-bits). Open addressing
// over region ids, at most half full, and a cache of the last region used: consecutive objects
// or blocks mostly share a region.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace memslim::engine {

// Region id → Value (default-constructed when first asked for). A reference or pointer to a
// value stays valid until the next get_or_create that adds a region.
template <typename Value>
class RegionTable {
  public:
    RegionTable() = default;
    RegionTable(const RegionTable&) = delete;
    RegionTable& operator=(const RegionTable&) = delete;
    RegionTable(RegionTable&&) = default;
    RegionTable& operator=(RegionTable&&) = default;

    // The value of region `id`, created if needed.
    Value& get_or_create(std::uintptr_t id) {
        if (id == last_id_) return *last_value_;
        Value* value = lookup(id);
        if (value == nullptr) value = add(id);
        remember(id, value);
        return *value;
    }

    // The value of region `id`, or nullptr if it was never created.
    Value* get(std::uintptr_t id) {
        if (id == last_id_) return last_value_;
        Value* value = lookup(id);
        if (value != nullptr) remember(id, value);
        return value;
    }

    [[nodiscard]] const Value* find(std::uintptr_t id) const {
        return const_cast<RegionTable*>(this)->lookup(id);
    }

    [[nodiscard]] std::size_t regions() const { return regions_; }
    // The table's own slots (what a value owns is its owner's to count).
    [[nodiscard]] std::size_t memory_bytes() const { return slots_.size() * sizeof(Slot); }

    // Calls fn(id, value) for each region, in no particular order.
    template <typename Fn>
    void for_each(Fn&& fn) const {
        for (const Slot& slot : slots_) {
            if (slot.id_plus_one != 0) fn(slot.id_plus_one - 1, slot.value);
        }
    }

  private:
    struct Slot {
        std::uintptr_t id_plus_one = 0;  // 0: empty
        Value value{};
    };

    static std::size_t home(std::uintptr_t id, std::size_t capacity) {
        return static_cast<std::size_t>((id * 0x9E3779B97F4A7C15ULL) >> 32) & (capacity - 1);
    }
    Value* lookup(std::uintptr_t id) {
        if (slots_.empty()) return nullptr;
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t i = home(id, slots_.size());; i = (i + 1) & mask) {
            if (slots_[i].id_plus_one == id + 1) return &slots_[i].value;
            if (slots_[i].id_plus_one == 0) return nullptr;
        }
    }
    void remember(std::uintptr_t id, Value* value) {
        last_id_ = id;
        last_value_ = value;
    }
    Value* add(std::uintptr_t id) {
        if ((regions_ + 1) * 2 > slots_.size()) grow();
        ++regions_;
        return place(id, Value{});
    }
    Value* place(std::uintptr_t id, Value&& value) {
        const std::size_t mask = slots_.size() - 1;
        std::size_t i = home(id, slots_.size());
        while (slots_[i].id_plus_one != 0) i = (i + 1) & mask;
        slots_[i].id_plus_one = id + 1;
        slots_[i].value = std::move(value);
        return &slots_[i].value;
    }
    void grow() {
        // The new table first: when it cannot be had (std::bad_alloc), the directory is as it
        // was, and the tracker stops recording new blocks (tracker.cpp, ran_out_of_own_memory).
        std::vector<Slot> old(slots_.empty() ? 64 : slots_.size() * 2);
        old.swap(slots_);
        for (Slot& slot : old) {
            if (slot.id_plus_one != 0) place(slot.id_plus_one - 1, std::move(slot.value));
        }
        last_id_ = ~std::uintptr_t{0};  // the cached pointer moved
        last_value_ = nullptr;
    }

    std::vector<Slot> slots_;
    std::size_t regions_ = 0;
    std::uintptr_t last_id_ = ~std::uintptr_t{0};
    Value* last_value_ = nullptr;
};

template <typename Word, std::size_t kWords>
class RegionDirectory {
  public:
    // The words of region `id`, created (all zero) if needed.
    Word* get_or_create(std::uintptr_t id) {
        Word*& words = table_.get_or_create(id);
        if (words == nullptr) {
            storage_.push_back(std::make_unique<Word[]>(kWords));  // zeroed
            ids_.push_back(id);
            words = storage_.back().get();
        }
        return words;
    }

    // The words of region `id`, or nullptr if it was never created.
    [[nodiscard]] const Word* find(std::uintptr_t id) const {
        Word* const* words = table_.find(id);
        return words == nullptr ? nullptr : *words;
    }

    [[nodiscard]] std::size_t regions() const { return ids_.size(); }
    [[nodiscard]] std::size_t memory_bytes() const {
        return regions() * kWords * sizeof(Word) + table_.memory_bytes();
    }

    // Calls fn(id, words) for each region, in creation order.
    template <typename Fn>
    void for_each(Fn&& fn) const {
        for (std::size_t r = 0; r < ids_.size(); ++r) fn(ids_[r], storage_[r].get());
    }

  private:
    RegionTable<Word*> table_;
    std::vector<std::unique_ptr<Word[]>> storage_;
    std::vector<std::uintptr_t> ids_;
};

}  // namespace memslim::engine
