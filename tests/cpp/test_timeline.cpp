// Unit tests for engine/timeline.
#include "engine/timeline.h"

#include <gtest/gtest.h>

#include <vector>

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

// A compaction keeps, of each pair of neighbouring points, the one with more traced bytes (the
// first of an equal pair), and an odd last point as it is: checked against the same rule
// applied by hand to a copy of the points. And no add() allocates: the buffer reserved when the
// timeline was made is the one in use after thousands of points (memslim's timeline thread
// must call no malloc, engine/timeline.h).
TEST(Timeline, CompactsPairwiseInPlaceWithoutAllocating) {
    Timeline timeline(9);
    const TimelinePoint* buffer = nullptr;
    std::vector<TimelinePoint> expected;
    for (int i = 0; i < 5000; ++i) {
        const TimelinePoint point{i * 1.0, (i * 7919) % 113, i};
        expected.push_back(point);
        if (expected.size() == 9) {  // what add() must make of them
            std::vector<TimelinePoint> merged;
            for (std::size_t k = 0; k + 1 < expected.size(); k += 2) {
                merged.push_back(expected[k].traced_bytes >= expected[k + 1].traced_bytes
                                     ? expected[k]
                                     : expected[k + 1]);
            }
            merged.push_back(expected.back());
            expected = merged;
        }
        timeline.add(point);
        if (buffer == nullptr) buffer = timeline.points().data();
        ASSERT_EQ(timeline.points().data(), buffer) << "reallocated at point " << i;
        ASSERT_EQ(timeline.points().size(), expected.size());
        for (std::size_t k = 0; k < expected.size(); ++k) {
            ASSERT_EQ(timeline.points()[k].seconds, expected[k].seconds) << i << " " << k;
            ASSERT_EQ(timeline.points()[k].rss_bytes, expected[k].rss_bytes);
        }
    }
}
