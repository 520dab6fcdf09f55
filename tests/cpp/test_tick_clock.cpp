// Unit tests for engine/tick_clock: its ticks, read as seconds, against the steady clock.
#include "engine/tick_clock.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

using memslim::engine::TickClock;
using Steady = std::chrono::steady_clock;

namespace {

double since(Steady::time_point from, Steady::time_point to) {
    return std::chrono::duration<double>(to - from).count();
}

// A tick and the steady clock read within 50 microseconds of each other (a thread
// descheduled between the two reads is tried again): the steady clock's seconds since
// `origin` at that tick.
std::uint64_t tick_at(const TickClock& clock, Steady::time_point origin, double* seconds) {
    for (;;) {
        const Steady::time_point before = Steady::now();
        const std::uint64_t ticks = clock.now();
        const Steady::time_point after = Steady::now();
        if (since(before, after) < 50e-6) {
            *seconds = since(origin, before) + since(before, after) / 2;
            return ticks;
        }
    }
}

void agrees_with_the_steady_clock(bool use_counter) {
    const Steady::time_point before = Steady::now();
    TickClock clock(use_counter);
    const Steady::time_point after = Steady::now();
    const double start_error = since(before, after);
    double first_s = 0;
    const std::uint64_t first = tick_at(clock, after, &first_s);
    // Until the steady clock has moved on 30 ms (a condition, not a sleep).
    while (since(after, Steady::now()) < 0.03) {
    }
    double second_s = 0;
    const std::uint64_t second = tick_at(clock, after, &second_s);
    const double tolerance = start_error + 200e-6;
    EXPECT_NEAR(clock.seconds(first), first_s, tolerance);
    EXPECT_NEAR(clock.seconds(second), second_s, tolerance);
    EXPECT_GT(clock.seconds(second), clock.seconds(first));
    EXPECT_EQ(clock.seconds(0), 0.0);  // before its start
}

}  // namespace

TEST(TickClock, TheCountersSecondsAreTheSteadyClocks) {
    agrees_with_the_steady_clock(true);
}

TEST(TickClock, WithoutTheCounterItIsTheSteadyClock) {
    TickClock clock(false);
    EXPECT_FALSE(clock.uses_counter());
    agrees_with_the_steady_clock(false);
}

// Restarted, its seconds count from there.
TEST(TickClock, RestartMovesItsOrigin) {
    TickClock clock;
    const Steady::time_point first = Steady::now();
    while (since(first, Steady::now()) < 0.02) {
    }
    clock.restart();
    const Steady::time_point origin = Steady::now();
    double seconds = 0;
    const std::uint64_t ticks = tick_at(clock, origin, &seconds);
    EXPECT_NEAR(clock.seconds(ticks), seconds, 300e-6);
    EXPECT_LT(clock.seconds(ticks), 0.015);
}
