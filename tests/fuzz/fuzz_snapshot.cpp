// fuzz_snapshot.cpp — libFuzzer target for the saved-snapshot reader (engine/snapshot_file).
//
// The first byte of an input picks what the rest is:
//   even: a whole file, read as it is (the magic, version, length and checksum checks);
//   odd:  a payload, wrapped in a valid header with its checksum, so that mutations reach the
//         parser behind the checksum (counts, names, offsets, edge targets) instead of being
//         stopped by it.
// Whatever the bytes, read_snapshot must return: on failure with a one-line error, on success
// with data that holds together (every index in range), which writes and reads back the same.
// Built and run by scripts/fuzz.sh (clang, -fsanitize=fuzzer,address,undefined).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "engine/snapshot_file.h"

using memslim::engine::fnv1a64;
using memslim::engine::read_snapshot;
using memslim::engine::SnapshotData;
using memslim::engine::write_snapshot;

namespace {

template <class T>
void put(std::string& out, T value) {
    char bytes[sizeof(T)];
    std::memcpy(bytes, &value, sizeof(T));
    out.append(bytes, sizeof(T));
}

std::string with_header(std::string_view payload) {
    std::string file("MSLMHEAP", 8);
    put<std::uint32_t>(file, memslim::engine::kSnapshotFormatVersion);
    put<std::uint32_t>(file, 0);
    put<std::uint64_t>(file, payload.size());
    put<std::uint64_t>(file, fnv1a64(payload));
    file.append(payload);
    return file;
}

void check(bool holds) {
    if (!holds) std::abort();
}

void check_consistent(const SnapshotData& data) {
    const std::size_t nodes = data.node_type.size();
    check(data.node_size.size() == nodes);
    check(data.edge_begin.size() == nodes + 1);
    check(data.edge_begin.front() == 0);
    check(data.edge_begin.back() == data.edge_target.size());
    for (std::size_t i = 0; i + 1 < data.edge_begin.size(); ++i) {
        check(data.edge_begin[i] <= data.edge_begin[i + 1]);
    }
    for (std::uint32_t target : data.edge_target) check(target < nodes);
    for (std::uint32_t type : data.node_type) {
        check(type == SnapshotData::kNoType || type < data.type_names.size());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::string file = (data[0] & 1) != 0 ? with_header(rest) : std::string(rest);
    SnapshotData out;
    std::string error;
    if (!read_snapshot(file, out, error)) {
        check(!error.empty() && error.find('\n') == std::string::npos);
        return 0;
    }
    check(error.empty());
    check_consistent(out);
    SnapshotData again;
    check(read_snapshot(write_snapshot(out), again, error));
    check(again.type_names == out.type_names && again.node_type == out.node_type &&
          again.node_size == out.node_size && again.edge_begin == out.edge_begin &&
          again.edge_target == out.edge_target);
    return 0;
}
