// region_directory.h — a zero-filled array of `kWords` words per region of address space, found
// by region id: the directory under the address bitmap (1 MiB chunks of seen-bits) and the block
// map (16 KiB regions of block entries). Open addressing over region ids, at most half full, and
// a cache of the last region used: consecutive objects or blocks mostly share a region.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace memslim::engine {

template <typename Word, std::size_t kWords>
class RegionDirectory {
  public:
    RegionDirectory() = default;
    RegionDirectory(const RegionDirectory&) = delete;
    RegionDirectory& operator=(const RegionDirectory&) = delete;
    RegionDirectory(RegionDirectory&&) = default;
    RegionDirectory& operator=(RegionDirectory&&) = default;

    // The words of region `id`, created (all zero) if needed.
    Word* get_or_create(std::uintptr_t id) {
        if (id == last_id_) return last_words_;
        Word* words = const_cast<Word*>(find(id));
        if (words == nullptr) words = add(id);
        remember(id, words);
        return words;
    }

    // The words of region `id`, or nullptr if it was never created.
    Word* get(std::uintptr_t id) {
        if (id == last_id_) return last_words_;
        Word* words = const_cast<Word*>(find(id));
        if (words != nullptr) remember(id, words);
        return words;
    }

    [[nodiscard]] const Word* find(std::uintptr_t id) const {
        if (directory_.empty()) return nullptr;
        const std::size_t mask = directory_.size() - 1;
        for (std::size_t i = home(id, directory_.size());; i = (i + 1) & mask) {
            if (directory_[i].id_plus_one == id + 1) return directory_[i].words;
            if (directory_[i].id_plus_one == 0) return nullptr;
        }
    }

    [[nodiscard]] std::size_t regions() const { return ids_.size(); }
    [[nodiscard]] std::size_t memory_bytes() const {
        return regions() * kWords * sizeof(Word) + directory_.size() * sizeof(Slot);
    }

    // Calls fn(id, words) for each region, in creation order.
    template <typename Fn>
    void for_each(Fn&& fn) const {
        for (std::size_t r = 0; r < ids_.size(); ++r) fn(ids_[r], storage_[r].get());
    }

  private:
    struct Slot {
        std::uintptr_t id_plus_one = 0;  // 0: empty
        Word* words = nullptr;
    };

    static std::size_t home(std::uintptr_t id, std::size_t capacity) {
        return static_cast<std::size_t>((id * 0x9E3779B97F4A7C15ULL) >> 32) & (capacity - 1);
    }
    void remember(std::uintptr_t id, Word* words) {
        last_id_ = id;
        last_words_ = words;
    }
    Word* add(std::uintptr_t id) {
        if ((ids_.size() + 1) * 2 > directory_.size()) grow();
        storage_.push_back(std::make_unique<Word[]>(kWords));  // zeroed
        ids_.push_back(id);
        insert(Slot{id + 1, storage_.back().get()});
        return storage_.back().get();
    }
    void insert(const Slot& slot) {
        const std::size_t mask = directory_.size() - 1;
        std::size_t i = home(slot.id_plus_one - 1, directory_.size());
        while (directory_[i].id_plus_one != 0) i = (i + 1) & mask;
        directory_[i] = slot;
    }
    void grow() {
        std::vector<Slot> old = std::move(directory_);
        directory_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
        for (const Slot& slot : old) {
            if (slot.id_plus_one != 0) insert(slot);
        }
    }

    std::vector<Slot> directory_;
    std::vector<std::unique_ptr<Word[]>> storage_;
    std::vector<std::uintptr_t> ids_;
    std::uintptr_t last_id_ = ~std::uintptr_t{0};
    Word* last_words_ = nullptr;
};

}  // namespace memslim::engine
