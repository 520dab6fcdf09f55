// Unit tests for engine/tally.
#include "engine/tally.h"

#include <gtest/gtest.h>

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
