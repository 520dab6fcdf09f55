// site_table.cpp — call stack interning (see site_table.h).
#include "engine/site_table.h"

#include <algorithm>

namespace memslim::engine {

SiteTable::SiteTable() {
    begin_ = {0, 0};  // site 0: the empty stack
    hashes_ = {hash({})};
    index_.assign(1024, kEmpty);
    index_[hashes_[0] & (index_.size() - 1)] = kNoStack;
}

std::uint64_t SiteTable::hash(std::span<const Frame> frames) {
    // One multiply per frame (this runs on every allocation), then a final avalanche so that
    // the low bits used to index the table depend on every frame.
    std::uint64_t h = frames.size();
    for (const Frame& f : frames) {
        h = (h << 5 | h >> 59) ^ f.code ^ (static_cast<std::uint64_t>(f.instruction) << 44);
        h *= 0x9E3779B97F4A7C15ULL;
    }
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    return h;
}

SiteId SiteTable::intern(std::span<const Frame> frames, std::uint64_t hash, bool* is_new) {
    const std::size_t mask = index_.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
        SiteId site = index_[i];
        if (site == kEmpty) break;
        if (hashes_[site] == hash) {
            auto known = this->frames(site);
            if (known.size() == frames.size() &&
                std::equal(known.begin(), known.end(), frames.begin())) {
                *is_new = false;
                return site;
            }
        }
    }
    *is_new = true;
    const auto site = static_cast<SiteId>(size());
    frames_.insert(frames_.end(), frames.begin(), frames.end());
    begin_.push_back(static_cast<std::uint32_t>(frames_.size()));
    hashes_.push_back(hash);
    if (size() * 2 > index_.size()) {
        grow_index();
    } else {
        std::size_t i = hash & mask;
        while (index_[i] != kEmpty) i = (i + 1) & mask;
        index_[i] = site;
    }
    return site;
}

void SiteTable::grow_index() {
    index_.assign(index_.size() * 2, kEmpty);
    const std::size_t mask = index_.size() - 1;
    for (SiteId site = 0; site < size(); ++site) {
        std::size_t i = hashes_[site] & mask;
        while (index_[i] != kEmpty) i = (i + 1) & mask;
        index_[i] = site;
    }
}

std::size_t SiteTable::memory_bytes() const {
    return frames_.capacity() * sizeof(Frame) + begin_.capacity() * sizeof(std::uint32_t) +
           hashes_.capacity() * sizeof(std::uint64_t) + index_.capacity() * sizeof(SiteId);
}

}  // namespace memslim::engine
