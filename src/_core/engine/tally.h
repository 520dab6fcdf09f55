// tally.h — count and bytes per key (for example per type), reported largest first.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace memslim::engine {

// A map's row for a key, the last key's row remembered: a heap walk meets a container's items
// one after another, so consecutive objects mostly share their type and allocation site, and
// the lookup (a tree or hash search per object, millions of them) is skipped. Needs a map whose
// rows stay where they are (std::map, std::unordered_map).
template <class Map>
class LastRow {
  public:
    explicit LastRow(Map& map) : map_(map) {}
    typename Map::mapped_type& operator()(const typename Map::key_type& key) {
        if (row_ == nullptr || !(key == key_)) {
            row_ = &map_[key];
            key_ = key;
        }
        return *row_;
    }

  private:
    Map& map_;
    typename Map::key_type key_{};
    typename Map::mapped_type* row_ = nullptr;
};

struct TallyRow {
    std::uintptr_t key = 0;
    std::size_t count = 0;
    std::size_t bytes = 0;
};

class Tally {
  public:
    void add(std::uintptr_t key, std::size_t bytes) {
        // Consecutive objects are very often of the same type: skip the hash lookup then.
        if (last_ == nullptr || last_->key != key) {
            auto [it, inserted] = rows_.try_emplace(key, TallyRow{key, 0, 0});
            last_ = &it->second;
        }
        last_->count += 1;
        last_->bytes += bytes;
    }

    // Rows ordered by bytes (largest first), ties broken by count, then key, so the order is
    // deterministic.
    [[nodiscard]] std::vector<TallyRow> largest_first() const {
        std::vector<TallyRow> rows;
        rows.reserve(rows_.size());
        for (const auto& [key, row] : rows_) rows.push_back(row);
        std::sort(rows.begin(), rows.end(), [](const TallyRow& a, const TallyRow& b) {
            if (a.bytes != b.bytes) return a.bytes > b.bytes;
            if (a.count != b.count) return a.count > b.count;
            return a.key < b.key;
        });
        return rows;
    }

    [[nodiscard]] std::size_t size() const { return rows_.size(); }

  private:
    // unordered_map never moves its nodes, so `last_` stays valid across inserts.
    std::unordered_map<std::uintptr_t, TallyRow> rows_;
    TallyRow* last_ = nullptr;
};

}  // namespace memslim::engine
