// Unit tests for engine/site_table.
#include "engine/site_table.h"

#include <gtest/gtest.h>

#include <vector>

using memslim::engine::Frame;
using memslim::engine::SiteTable;

namespace {
memslim::engine::SiteId intern(SiteTable& table, const std::vector<Frame>& frames, bool* is_new) {
    return table.intern(frames, SiteTable::hash(frames), is_new);
}
}  // namespace

TEST(SiteTable, SameStackSameSiteDifferentStackNewSite) {
    SiteTable table;
    bool is_new = false;
    std::vector<Frame> a = {{0x1000, 4}, {0x2000, 10}};
    std::vector<Frame> b = {{0x1000, 6}, {0x2000, 10}};  // same code, other instruction
    std::vector<Frame> c = {{0x1000, 4}};                // a prefix of a
    auto sa = intern(table, a, &is_new);
    EXPECT_TRUE(is_new);
    EXPECT_EQ(intern(table, a, &is_new), sa);
    EXPECT_FALSE(is_new);
    auto sb = intern(table, b, &is_new);
    EXPECT_TRUE(is_new);
    auto sc = intern(table, c, &is_new);
    EXPECT_TRUE(is_new);
    EXPECT_NE(sa, sb);
    EXPECT_NE(sa, sc);
    auto frames = table.frames(sa);
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[0], (Frame{0x1000, 4}));
    EXPECT_EQ(frames[1], (Frame{0x2000, 10}));
}

TEST(SiteTable, EmptyStackIsSiteZero) {
    SiteTable table;
    bool is_new = true;
    EXPECT_EQ(intern(table, {}, &is_new), SiteTable::kNoStack);
    EXPECT_FALSE(is_new);
    EXPECT_EQ(table.size(), 1u);
}

TEST(SiteTable, ManySitesSurviveIndexGrowth) {
    SiteTable table;
    bool is_new = false;
    std::vector<memslim::engine::SiteId> ids;
    for (std::uint32_t i = 0; i < 50000; ++i) {
        ids.push_back(intern(table, {{0x4000 + 16 * (i % 7), i}, {0x9000, i / 3}}, &is_new));
        ASSERT_TRUE(is_new);
    }
    for (std::uint32_t i = 0; i < 50000; ++i) {
        ASSERT_EQ(intern(table, {{0x4000 + 16 * (i % 7), i}, {0x9000, i / 3}}, &is_new), ids[i]);
        ASSERT_FALSE(is_new);
    }
    EXPECT_EQ(table.size(), 50001u);
}
