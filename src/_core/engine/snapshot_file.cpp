// snapshot_file.cpp — write and validate heap snapshot files (see snapshot_file.h).
#include "engine/snapshot_file.h"

#include <cstring>

namespace memslim::engine {

namespace {

constexpr char kMagic[8] = {'M', 'S', 'L', 'M', 'H', 'E', 'A', 'P'};
constexpr std::size_t kHeaderSize = 8 + 4 + 4 + 8 + 8;

template <typename T>
void put(std::string& out, T value) {
    char bytes[sizeof(T)];
    std::memcpy(bytes, &value, sizeof(T));  // little-endian hosts only (x86-64, aarch64)
    out.append(bytes, sizeof(T));
}

template <typename T>
void put_array(std::string& out, const std::vector<T>& values) {
    out.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

class Reader {
  public:
    explicit Reader(std::string_view bytes) : bytes_(bytes) {}
    template <typename T>
    bool get(T& value) {
        if (bytes_.size() - pos_ < sizeof(T)) return false;
        std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return true;
    }
    template <typename T>
    bool get_array(std::vector<T>& values, std::uint64_t count) {
        if (count > (bytes_.size() - pos_) / sizeof(T)) return false;
        values.resize(count);
        // Not for none: an empty vector's data() may be null, and memcpy's may not (UB; found
        // by tests/fuzz/fuzz_snapshot.cpp).
        if (count != 0) std::memcpy(values.data(), bytes_.data() + pos_, count * sizeof(T));
        pos_ += count * sizeof(T);
        return true;
    }
    bool get_string(std::string& value, std::uint32_t length) {
        if (length > bytes_.size() - pos_) return false;
        value.assign(bytes_.data() + pos_, length);
        pos_ += length;
        return true;
    }
    [[nodiscard]] bool at_end() const { return pos_ == bytes_.size(); }

  private:
    std::string_view bytes_;
    std::size_t pos_ = 0;
};

}  // namespace

std::uint64_t fnv1a64(std::string_view bytes) {
    std::uint64_t h = 0xCBF29CE484222325ULL;
    for (unsigned char c : bytes) {
        h ^= c;
        h *= 0x100000001B3ULL;
    }
    return h;
}

std::string write_snapshot(const SnapshotData& data) {
    std::string payload;
    put<std::uint64_t>(payload, data.type_names.size());
    for (const std::string& name : data.type_names) {
        put<std::uint32_t>(payload, static_cast<std::uint32_t>(name.size()));
        payload.append(name);
    }
    put<std::uint64_t>(payload, data.node_type.size());
    put_array(payload, data.node_type);
    put_array(payload, data.node_size);
    put_array(payload, data.edge_begin);
    put<std::uint64_t>(payload, data.edge_target.size());
    put_array(payload, data.edge_target);

    std::string out(kMagic, sizeof(kMagic));
    put<std::uint32_t>(out, kSnapshotFormatVersion);
    put<std::uint32_t>(out, 0);
    put<std::uint64_t>(out, payload.size());
    put<std::uint64_t>(out, fnv1a64(payload));
    out += payload;
    return out;
}

bool read_snapshot(std::string_view bytes, SnapshotData& out, std::string& error) {
    out = SnapshotData{};
    if (bytes.size() < kHeaderSize) {
        error =
            "not a memslim heap snapshot: " + std::to_string(bytes.size()) + " bytes, too short";
        return false;
    }
    if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
        error = "not a memslim heap snapshot (wrong magic bytes)";
        return false;
    }
    Reader header(bytes.substr(sizeof(kMagic), kHeaderSize - sizeof(kMagic)));
    std::uint32_t version = 0, flags = 0;
    std::uint64_t length = 0, checksum = 0;
    header.get(version);
    header.get(flags);
    header.get(length);
    header.get(checksum);
    if (version > kSnapshotFormatVersion) {
        error = "snapshot format version " + std::to_string(version) +
                " is newer than this memslim reads (" + std::to_string(kSnapshotFormatVersion) +
                "): upgrade memslim";
        return false;
    }
    if (version == 0 || flags != 0) {
        error = "corrupted snapshot header";
        return false;
    }
    const std::string_view payload = bytes.substr(kHeaderSize);
    if (payload.size() != length) {
        error =
            (payload.size() < length ? "truncated snapshot: " : "snapshot has trailing bytes: ") +
            std::to_string(payload.size()) + " payload bytes, the header says " +
            std::to_string(length);
        return false;
    }
    if (fnv1a64(payload) != checksum) {
        error = "corrupted snapshot: checksum mismatch";
        return false;
    }

    Reader r(payload);
    const std::string bad = "corrupted snapshot: inconsistent contents";
    std::uint64_t types = 0, nodes = 0, edges = 0;
    if (!r.get(types) || types > payload.size()) return (error = bad, false);
    out.type_names.resize(types);
    for (std::string& name : out.type_names) {
        std::uint32_t size = 0;
        if (!r.get(size) || !r.get_string(name, size)) return (error = bad, false);
    }
    if (!r.get(nodes) || nodes >= 0xFFFFFFFFULL) return (error = bad, false);
    if (!r.get_array(out.node_type, nodes) || !r.get_array(out.node_size, nodes) ||
        !r.get_array(out.edge_begin, nodes + 1) || !r.get(edges) || edges >= 0xFFFFFFFFULL ||
        !r.get_array(out.edge_target, edges) || !r.at_end()) {
        return (error = bad, false);
    }
    for (std::uint32_t t : out.node_type) {
        if (t != SnapshotData::kNoType && t >= types) return (error = bad, false);
    }
    if (out.edge_begin.front() != 0 || out.edge_begin.back() != edges) return (error = bad, false);
    for (std::size_t i = 0; i < nodes; ++i) {
        if (out.edge_begin[i] > out.edge_begin[i + 1]) return (error = bad, false);
    }
    for (std::uint32_t target : out.edge_target) {
        if (target >= nodes) return (error = bad, false);
    }
    return true;
}

}  // namespace memslim::engine
