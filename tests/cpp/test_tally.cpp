// Unit tests for engine/tally.
#include "engine/tally.h"

#include <gtest/gtest.h>

#include <map>
#include <utility>
#include <vector>

using memslim::engine::Tally;

TEST(Tally, SumsPerKeyAndOrdersLargestFirst) {
    Tally tally;
    tally.add(1, 10);
    tally.add(2, 100);
    tally.add(1, 10);
    tally.add(3, 5);
    tally.add(2, 1);
    auto rows = tally.largest_first();
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].key, 2u);
    EXPECT_EQ(rows[0].count, 2u);
    EXPECT_EQ(rows[0].bytes, 101u);
    EXPECT_EQ(rows[1].key, 1u);
    EXPECT_EQ(rows[1].count, 2u);
    EXPECT_EQ(rows[1].bytes, 20u);
    EXPECT_EQ(rows[2].key, 3u);
}

TEST(Tally, TiesAreDeterministic) {
    Tally tally;
    tally.add(9, 8);
    tally.add(4, 8);
    tally.add(7, 8);
    tally.add(7, 0);
    auto rows = tally.largest_first();
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].key, 7u);  // same bytes, more objects
    EXPECT_EQ(rows[1].key, 4u);  // then lower key
    EXPECT_EQ(rows[2].key, 9u);
}

TEST(Tally, EmptyHasNoRows) {
    Tally tally;
    EXPECT_TRUE(tally.largest_first().empty());
    EXPECT_EQ(tally.size(), 0u);
}

TEST(LastRow, SumsLikeTheMapItFronts) {
    // Keys in runs and revisits: each key's sum equals the brute-force sum over the sequence.
    const std::vector<std::pair<int, int>> seq = {{3, 1}, {3, 2}, {7, 5}, {3, 4}, {7, 1}, {9, 9},
                                                  {9, 1}, {3, 8}, {0, 3}, {0, 2}, {7, 7}};
    std::map<int, int> sums;
    memslim::engine::LastRow row(sums);
    for (const auto& [key, value] : seq) row(key) += value;
    std::map<int, int> expected;
    for (const auto& [key, value] : seq) expected[key] += value;
    EXPECT_EQ(sums, expected);
}
