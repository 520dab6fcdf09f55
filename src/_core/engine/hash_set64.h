// hash_set64.h — a set of non-zero 64-bit keys (hashes): open addressing, linear probing, at
// most two thirds full, in an anonymous mapping of its own. (Half full made the JSON/CSV bench
// job's set, 281,000 keys, an 8 MiB table where 4 MiB hold them at 54%, in the census child
// whose RSS is the run's peak; most lookups find their key, about two probes at two thirds.)
//
// Growing moves the keys into a table twice the size and unmaps the old one 64 KiB at a time as
// it goes, so the set's peak is the new table, not both whole: a vector's growth held the old
// table beside the new one, in the census child whose RSS is the run's largest.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <new>

namespace memslim::engine {

class HashSet64 {
  public:
    // `slots`: a power of two of at least 512 (a page).
    explicit HashSet64(std::size_t slots = 1024) : slots_(map(slots)), capacity_(slots) {}
    ~HashSet64() { munmap(slots_, memory_bytes()); }
    HashSet64(const HashSet64&) = delete;
    HashSet64& operator=(const HashSet64&) = delete;

    // Adds `key` (non-zero); whether it was new. Throws std::bad_alloc when the set cannot grow.
    bool insert(std::uint64_t key) {
        if ((size_ + 1) * 3 > capacity_ * 2) grow();
        std::uint64_t& slot = probe(key);
        if (slot == key) return false;
        slot = key;
        ++size_;
        return true;
    }
    // Empties the set and gives its table back (keeps the smallest).
    void clear() {
        std::uint64_t* const smallest = map(kSmallest);
        munmap(slots_, memory_bytes());
        slots_ = smallest;
        capacity_ = kSmallest;
        size_ = 0;
    }
    // Brings the cache line where `key`'s lookup starts closer (a later insert's).
    void prefetch(std::uint64_t key) const { __builtin_prefetch(&slots_[home(key)]); }

    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] std::size_t memory_bytes() const { return capacity_ * sizeof(std::uint64_t); }

  private:
    static constexpr std::size_t kSmallest = 512;  // one page
    static constexpr std::size_t kStretch = (64 << 10) / sizeof(std::uint64_t);  // slots

    [[nodiscard]] std::size_t home(std::uint64_t key) const {
        return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ULL) & (capacity_ - 1));
    }
    // The slot holding `key`, or the empty one where it would go.
    std::uint64_t& probe(std::uint64_t key) {
        std::size_t i = home(key);
        while (slots_[i] != key && slots_[i] != 0) i = (i + 1) & (capacity_ - 1);
        return slots_[i];
    }
    static std::uint64_t* map(std::size_t slots) {
        void* p = mmap(nullptr, slots * sizeof(std::uint64_t), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);  // zeroed: every slot empty
        if (p == MAP_FAILED) throw std::bad_alloc();
        return static_cast<std::uint64_t*>(p);
    }
    void grow() {
        std::uint64_t* const old = slots_;
        const std::size_t old_capacity = capacity_;
        slots_ = map(old_capacity * 2);
        capacity_ = old_capacity * 2;
        std::size_t unmapped = 0;  // old slots [0, unmapped) are gone
        for (std::size_t i = 0; i < old_capacity; ++i) {
            if (const std::uint64_t key = old[i]; key != 0) probe(key) = key;  // keys are distinct
            if (i + 1 - unmapped == kStretch) {  // a whole stretch read: 64 KiB, page-aligned
                munmap(old + unmapped, kStretch * sizeof(std::uint64_t));
                unmapped = i + 1;
            }
        }
        if (unmapped < old_capacity) {
            munmap(old + unmapped, (old_capacity - unmapped) * sizeof(std::uint64_t));
        }
    }

    std::uint64_t* slots_;
    std::size_t capacity_;
    std::size_t size_ = 0;
};

}  // namespace memslim::engine
