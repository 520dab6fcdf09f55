// counting_filter.h — which addresses may hold a sampled block, answered without a lock.
//
// Sample mode records a few blocks out of many; every free must be checked against them, and
// taking the recording's lock for each one cost more than the sampling saved. A counting
// filter answers "certainly not sampled" for nearly all frees without the lock: one 8-bit
// counter per slot (a hash of the address), incremented when a block there is recorded and
// decremented when it is forgotten. A counter saturates: once 255 blocks share a slot it stays
// at 255 for good, and that slot always answers "maybe" (the lookup behind it decides). A
// counter that wrapped instead reached 0 with 256 blocks live, and their frees were dismissed:
// live bytes overstated for the rest of the run.
//
// add() and remove() are serialised by the caller (the recording's lock); may_contain() may
// run in any thread at any time (relaxed atomics: a stale answer only costs a lookup, or, for
// a block being recorded by another thread right now, is the answer of a moment earlier).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace memslim::engine {

class CountingFilter {
  public:
    static constexpr std::uint8_t kStuck = 255;

    explicit CountingFilter(unsigned slot_bits = 16)
        : shift_(64 - slot_bits),
          slots_(std::size_t{1} << slot_bits),
          counts_(std::make_unique<std::atomic<std::uint8_t>[]>(slots_)) {}

    [[nodiscard]] bool may_contain(std::uintptr_t address) const {
        return counts_[slot(address)].load(std::memory_order_relaxed) != 0;
    }

    void add(std::uintptr_t address) {
        std::atomic<std::uint8_t>& count = counts_[slot(address)];
        const std::uint8_t now = count.load(std::memory_order_relaxed);
        if (now != kStuck) count.store(now + 1, std::memory_order_relaxed);
    }

    void remove(std::uintptr_t address) {
        std::atomic<std::uint8_t>& count = counts_[slot(address)];
        const std::uint8_t now = count.load(std::memory_order_relaxed);
        if (now != kStuck && now != 0) count.store(now - 1, std::memory_order_relaxed);
    }

    [[nodiscard]] std::size_t memory_bytes() const { return slots_; }

  private:
    [[nodiscard]] std::size_t slot(std::uintptr_t address) const {
        return static_cast<std::size_t>(((address >> 4) * 0x9E3779B97F4A7C15ULL) >> shift_);
    }

    unsigned shift_;
    std::size_t slots_;
    std::unique_ptr<std::atomic<std::uint8_t>[]> counts_;
};

}  // namespace memslim::engine
