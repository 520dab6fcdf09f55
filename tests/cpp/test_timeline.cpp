// Unit tests for engine/timeline.
#include "engine/timeline.h"

#include <gtest/gtest.h>

using memslim::engine::Timeline;
using memslim::engine::TimelinePoint;

TEST(Timeline, StaysBoundedAndKeepsThePeak) {
    Timeline timeline(64);
    int compactions = 0;
    for (int i = 0; i < 100000; ++i) {
        std::int64_t traced = (i == 54321) ? 1000000 : i % 100;
        compactions += timeline.add(TimelinePoint{i * 0.001, traced, 0});
        ASSERT_LT(timeline.points().size(), 64u);
    }
    EXPECT_GT(compactions, 5);
    std::int64_t highest = 0;
    double last = -1;
    for (const auto& p : timeline.points()) {
        highest = std::max(highest, p.traced_bytes);
        EXPECT_GT(p.seconds, last);
        last = p.seconds;
    }
    EXPECT_EQ(highest, 1000000);
}
