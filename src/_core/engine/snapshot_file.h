// snapshot_file.h — a heap snapshot on disk: versioned, checksummed, validated on load.
//
// Layout (little-endian): magic "MSLMHEAP", u32 format version, u32 flags (0), u64 payload
// length, u64 FNV-1a checksum of the payload, then the payload: u64 type count and each type name
// (u32 length + UTF-8 bytes); u64 node count; per node a u32 type index (kNoType for the virtual
// root) and a u64 size; the CSR edge offsets (nodes + 1 u32) and u64 edge count with the u32
// edge targets. A reader rejects — with a message, never a crash — a wrong magic, a newer
// version, a truncated or over-long file, a checksum mismatch, and any index out of range.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace memslim::engine {

struct SnapshotData {
    static constexpr std::uint32_t kNoType = 0xFFFFFFFFu;
    std::vector<std::string> type_names;
    std::vector<std::uint32_t> node_type;   // per node
    std::vector<std::uint64_t> node_size;   // per node
    std::vector<std::uint32_t> edge_begin;  // nodes + 1 offsets into edge_target
    std::vector<std::uint32_t> edge_target;
};

constexpr std::uint32_t kSnapshotFormatVersion = 1;

std::string write_snapshot(const SnapshotData& data);

// Parses `bytes` into `out`. On failure returns false and sets `error` to one line that says
// what is wrong (for example "truncated: 120 bytes, the header says 4096").
bool read_snapshot(std::string_view bytes, SnapshotData& out, std::string& error);

std::uint64_t fnv1a64(std::string_view bytes);

}  // namespace memslim::engine
