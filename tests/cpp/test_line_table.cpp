// decode_line_table: CPython's location table (Objects/locations.md) read into line ranges.
// Tables written here byte by byte; tests/unit/test_line_ranges.py compares real code objects
// with co_lines().
#include "engine/line_table.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace {

using memslim::engine::decode_line_table;
using memslim::engine::LineRange;

// The first byte of an entry: bit 7, the form's code, and the length in code units less one.
std::uint8_t entry(unsigned code, unsigned units) {
    return static_cast<std::uint8_t>(0x80 | (code << 3) | (units - 1));
}

std::vector<LineRange> decode(const std::vector<std::uint8_t>& table, int first_line) {
    std::vector<LineRange> out;
    EXPECT_TRUE(decode_line_table(table, first_line, &out));
    return out;
}

bool same(const std::vector<LineRange>& a, const std::vector<LineRange>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].start != b[i].start || a[i].end != b[i].end || a[i].line != b[i].line) {
            return false;
        }
    }
    return true;
}

TEST(LineTable, EmptyTableHasNoRanges) {
    EXPECT_TRUE(decode({}, 10).empty());
}

TEST(LineTable, EachFormMovesTheLineByItsDelta) {
    const std::vector<std::uint8_t> table = {
        entry(3, 2), 0x05,              // short form: line 10, 2 units
        entry(13, 1), 10,               // no columns: +5 (5 << 1)
        entry(13, 1), 7,                // no columns: -3 ((3 << 1) | 1)
        entry(11, 1), 1, 2,             // one line form: +1
        entry(12, 3), 1, 2,             // one line form: +2
        entry(10, 1), 1, 2,             // one line form: +0
        entry(15, 2),                   // no location: line None, the line stays
        entry(14, 1), 72, 3, 0, 1, 1,   // long form: +100 (200 = 8 | 3 << 6), end, columns
        entry(0, 8), 0x00,              // short form: 8 units on that line
    };
    const std::vector<LineRange> expected = {
        {0, 4, 10}, {4, 6, 15}, {6, 8, 12}, {8, 10, 13}, {10, 18, 15},
        {18, 22, -1}, {22, 40, 115},
    };
    EXPECT_TRUE(same(decode(table, 10), expected));
}

TEST(LineTable, MalformedTablesAreRefused) {
    std::vector<LineRange> out;
    const std::vector<std::uint8_t> no_entry_bit = {0x05};
    EXPECT_FALSE(decode_line_table(no_entry_bit, 1, &out));
    const std::vector<std::uint8_t> cut_varint = {entry(13, 1), 64};
    EXPECT_FALSE(decode_line_table(cut_varint, 1, &out));
    const std::vector<std::uint8_t> cut_columns = {entry(11, 1), 1};
    EXPECT_FALSE(decode_line_table(cut_columns, 1, &out));
    const std::vector<std::uint8_t> cut_short = {entry(2, 1)};
    EXPECT_FALSE(decode_line_table(cut_short, 1, &out));
}

}  // namespace
