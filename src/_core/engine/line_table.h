// line_table.h — a code object's line numbers by bytecode offset, read from its location
// table (co_linetable, CPython 3.11-3.13; the format is described in CPython's
// Objects/locations.md).
//
// The report resolves every frame of the frame tree to a line. Reading each code object's
// table through co_lines() made a tuple and three ints per entry: 1.7 million entries after
// importing pandas, SciPy and scikit-learn, most of the first report's 0.6 s spent on them.
// This reads the bytes directly, and merges consecutive entries of one line into one range.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace memslim::engine {

struct LineRange {
    int start;  // bytes of bytecode, as co_lines() gives them
    int end;
    int line;   // -1: no line (co_lines() gives None)
};

namespace line_table_detail {

// An unsigned varint of 6-bit chunks, low chunk first, bit 6 set on all but the last.
inline bool read_varint(const std::uint8_t*& p, const std::uint8_t* end, std::uint32_t* out) {
    std::uint32_t value = 0;
    unsigned shift = 0;
    for (;;) {
        if (p == end || shift > 30) return false;
        const std::uint8_t byte = *p++;
        value |= static_cast<std::uint32_t>(byte & 63) << shift;
        shift += 6;
        if ((byte & 64) == 0) break;
    }
    *out = value;
    return true;
}

inline bool read_signed_varint(const std::uint8_t*& p, const std::uint8_t* end, int* out) {
    std::uint32_t value = 0;
    if (!read_varint(p, end, &value)) return false;
    *out = (value & 1) != 0 ? -static_cast<int>(value >> 1) : static_cast<int>(value >> 1);
    return true;
}

}  // namespace line_table_detail

// Appends `range` to `ranges`, merged into the last one when it continues it on the same line.
inline void append_merged(std::vector<LineRange>& ranges, const LineRange& range) {
    if (!ranges.empty() && ranges.back().end == range.start && ranges.back().line == range.line) {
        ranges.back().end = range.end;
    } else {
        ranges.push_back(range);
    }
}

// The ranges of `table` (a code object's co_linetable) for a code whose first line is
// `first_line`, consecutive ranges of one line merged. False if the table is malformed (the
// caller then asks co_lines()); `out` is then unspecified.
inline bool decode_line_table(std::span<const std::uint8_t> table, int first_line,
                              std::vector<LineRange>* out) {
    using line_table_detail::read_signed_varint;
    using line_table_detail::read_varint;
    out->clear();
    const std::uint8_t* p = table.data();
    const std::uint8_t* const end = p + table.size();
    int line = first_line;
    int address = 0;  // in 16-bit code units
    while (p != end) {
        const std::uint8_t first = *p++;
        if ((first & 0x80) == 0) return false;  // every entry starts with bit 7 set
        const unsigned code = (first >> 3) & 15;
        const int length = (first & 7) + 1;
        bool has_line = true;
        std::uint32_t skipped = 0;
        int delta = 0;
        switch (code) {
            case 15:  // no location
                has_line = false;
                break;
            case 14:  // long form: line delta, end line delta, column + 1, end column + 1
                if (!read_signed_varint(p, end, &delta) || !read_varint(p, end, &skipped) ||
                    !read_varint(p, end, &skipped) || !read_varint(p, end, &skipped)) {
                    return false;
                }
                break;
            case 13:  // no column: line delta only
                if (!read_signed_varint(p, end, &delta)) return false;
                break;
            case 12:
            case 11:
            case 10:  // one-line forms: the line moves by 0, 1 or 2; two bytes of columns
                delta = static_cast<int>(code) - 10;
                if (end - p < 2) return false;
                p += 2;
                break;
            default:  // short forms 0-9: the same line, one byte of columns
                if (p == end) return false;
                ++p;
                break;
        }
        line += delta;
        append_merged(*out, {address * 2, (address + length) * 2, has_line ? line : -1});
        address += length;
    }
    return true;
}

}  // namespace memslim::engine
