// Unit tests for engine/snapshot_file: round trip, and a fuzzer of truncations and bit flips
// that must only ever produce clear errors.
#include "engine/snapshot_file.h"

#include <gtest/gtest.h>

#include <random>

using memslim::engine::read_snapshot;
using memslim::engine::SnapshotData;
using memslim::engine::write_snapshot;

namespace {
SnapshotData sample() {
    SnapshotData data;
    data.type_names = {"list", "str", "app.Order"};
    data.node_type = {SnapshotData::kNoType, 0, 1, 2, 1};
    data.node_size = {0, 88, 53, 72, 60};
    data.edge_begin = {0, 1, 4, 4, 5, 5};
    data.edge_target = {1, 2, 3, 4, 4};
    return data;
}
}  // namespace

TEST(SnapshotFile, RoundTrip) {
    const SnapshotData data = sample();
    std::string bytes = write_snapshot(data);
    SnapshotData back;
    std::string error;
    ASSERT_TRUE(read_snapshot(bytes, back, error)) << error;
    EXPECT_EQ(back.type_names, data.type_names);
    EXPECT_EQ(back.node_type, data.node_type);
    EXPECT_EQ(back.node_size, data.node_size);
    EXPECT_EQ(back.edge_begin, data.edge_begin);
    EXPECT_EQ(back.edge_target, data.edge_target);
}

TEST(SnapshotFile, ClearErrors) {
    std::string bytes = write_snapshot(sample());
    SnapshotData out;
    std::string error;
    EXPECT_FALSE(read_snapshot("hello", out, error));
    EXPECT_NE(error.find("too short"), std::string::npos);
    EXPECT_FALSE(read_snapshot(std::string(40, 'x'), out, error));
    EXPECT_NE(error.find("magic"), std::string::npos);
    EXPECT_FALSE(read_snapshot(bytes.substr(0, bytes.size() - 3), out, error));
    EXPECT_NE(error.find("truncated"), std::string::npos);
    std::string newer = bytes;
    newer[8] = 9;  // format version 9
    EXPECT_FALSE(read_snapshot(newer, out, error));
    EXPECT_NE(error.find("newer"), std::string::npos);
    std::string flipped = bytes;
    flipped[bytes.size() - 1] ^= 0x10;
    EXPECT_FALSE(read_snapshot(flipped, out, error));
    EXPECT_NE(error.find("checksum"), std::string::npos);
}

TEST(SnapshotFile, FuzzedTruncationsAndBitFlipsNeverCrash) {
    const std::string good = write_snapshot(sample());
    std::mt19937 rng(77);
    int accepted = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string bytes = good;
        if (rng() % 2) {
            bytes.resize(rng() % bytes.size());
        } else {
            for (int flips = 1 + rng() % 4; flips > 0; --flips) {
                bytes[rng() % bytes.size()] ^= static_cast<char>(1u << (rng() % 8));
            }
        }
        SnapshotData out;
        std::string error;
        if (read_snapshot(bytes, out, error)) {
            ++accepted;  // only possible if every flip cancelled out
        } else {
            EXPECT_FALSE(error.empty());
            EXPECT_EQ(error.find('\n'), std::string::npos);
        }
    }
    EXPECT_LE(accepted, 20);
}

TEST(SnapshotFile, ValidChecksumButInconsistentContentsRejected) {
    SnapshotData data = sample();
    data.edge_target[0] = 99;  // out of range, written with a correct checksum
    std::string bytes = write_snapshot(data);
    SnapshotData out;
    std::string error;
    EXPECT_FALSE(read_snapshot(bytes, out, error));
    EXPECT_NE(error.find("inconsistent"), std::string::npos);
}
