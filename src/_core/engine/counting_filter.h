// counting_filter.h — which addresses may hold a sampled block, answered without a lock.
//
// Sample mode records a few blocks out of many; every free must be checked against them, and
// taking the recording's lock for each one cost more than the sampling saved. A counting
// filter answers "certainly not sampled" for nearly all frees without the lock: one 8-bit
// counter per slot, incremented when a block there is recorded and decremented when it is
// forgotten.
//
// A slot is a 64-byte line of the heap within a window of slots x 64 bytes (4 MiB by default),
// the window's place in the table shifted by a hash of the window's address: neighbouring
// blocks have neighbouring counters, so the frees of a pool's blocks, which come together,
// read one or two cache lines of the table. A hash of each address (how it was first written)
// sent every free to a random line of the 64 KiB table: that one load was three quarters of
// the free hook's time in sample mode (perf, bench/real threads8), most of it a cache miss.
// A counter saturates: once 255 blocks share a slot it stays at 255 for good, and that slot
// always answers "maybe" (the lookup behind it decides). A counter that wrapped instead
// reached 0 with 256 blocks live, and their frees were dismissed: live bytes overstated for
// the rest of the run.
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
        : window_shift_(slot_bits),
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
        const std::uint64_t line = address >> kLineShift;
        const std::uint64_t window = line >> window_shift_;
        return static_cast<std::size_t>((line + ((window * 0x9E3779B97F4A7C15ULL) >> 32)) &
                                        (slots_ - 1));
    }

    static constexpr unsigned kLineShift = 6;
    unsigned window_shift_;
    std::size_t slots_;
    std::unique_ptr<std::atomic<std::uint8_t>[]> counts_;
};

}  // namespace memslim::engine
