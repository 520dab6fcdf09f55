// tick_clock.h — a clock cheap enough for the allocation path.
//
// The tracker notes when the peak was left on the free that leaves it (PeakTracker's save):
// in a program that grows, one free in two or three. std::chrono::steady_clock::now() there, a
// vDSO clock_gettime, was 2.2% of the JSON/CSV bench job's samples under tracking. A processor
// with an invariant time-stamp counter (one rate whatever its power state, the same on every
// core: CPUID 0x80000007, EDX bit 8) is read in a few cycles instead; ticks become seconds
// against the steady clock only when they are read, by the rate measured over everything
// since restart(). Elsewhere the ticks are the steady clock's own.
#pragma once

#include <chrono>
#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <x86intrin.h>
#define MEMSLIM_HAS_TSC 1
#else
#define MEMSLIM_HAS_TSC 0
#endif

namespace memslim::engine {

// read() called between two readings of the steady clock at most `within` apart: its result,
// and the clock's time at it (*at, the middle of the two readings). A thread descheduled
// between the readings (a busy machine) tries again, three times at most; the last reading
// stands.
template <class Read>
auto read_at_one_instant(Read read, std::chrono::steady_clock::duration within,
                         std::chrono::steady_clock::time_point* at) {
    using Steady = std::chrono::steady_clock;
    decltype(read()) value{};
    for (int attempt = 0; attempt < 3; ++attempt) {
        const Steady::time_point before = Steady::now();
        value = read();
        const Steady::time_point after = Steady::now();
        *at = before + (after - before) / 2;
        if (after - before < within) break;
    }
    return value;
}

class TickClock {
  public:
    using Steady = std::chrono::steady_clock;

    // `use_counter`: whether to read the time-stamp counter when the processor has an
    // invariant one (false: always the steady clock, as on processors without one).
    explicit TickClock(bool use_counter = true) : counter_(use_counter && invariant_counter()) {
        restart();
    }

    // Ticks count from now.
    void restart() { ticks0_ = read_together(&steady0_); }

    [[nodiscard]] std::uint64_t now() const {
#if MEMSLIM_HAS_TSC
        if (counter_) return __rdtsc();
#endif
        return static_cast<std::uint64_t>(Steady::now().time_since_epoch().count());
    }

    // Seconds from restart() to `ticks` (a now() taken since); 0 for ticks before it.
    [[nodiscard]] double seconds(std::uint64_t ticks) const {
        if (ticks <= ticks0_) return 0.0;
        const double ticks_since = static_cast<double>(ticks - ticks0_);
        if (!counter_) {
            return std::chrono::duration<double>(Steady::duration(1)).count() * ticks_since;
        }
        // The counter's rate since restart().
        Steady::time_point steady_now;
        const std::uint64_t ticks_now = read_together(&steady_now);
        const double seconds_now = std::chrono::duration<double>(steady_now - steady0_).count();
        if (ticks_now <= ticks0_) return 0.0;
        return ticks_since * seconds_now / static_cast<double>(ticks_now - ticks0_);
    }

    [[nodiscard]] bool uses_counter() const { return counter_; }

    static bool invariant_counter() {
#if MEMSLIM_HAS_TSC
        unsigned a = 0, b = 0, c = 0, d = 0;
        return __get_cpuid(0x80000007, &a, &b, &c, &d) != 0 && (d & (1u << 8)) != 0;
#else
        return false;
#endif
    }

  private:
    // The ticks now, and the steady clock's time at them (*steady).
    std::uint64_t read_together(Steady::time_point* steady) const {
        return read_at_one_instant([this] { return now(); }, std::chrono::microseconds(50), steady);
    }

    bool counter_;
    Steady::time_point steady0_;
    std::uint64_t ticks0_ = 0;
};

}  // namespace memslim::engine
