// peak_tracker.h — live bytes per site, and exactly what was live at the high-water mark.
//
// Keeping a copy of every site's live bytes each time a new peak is reached would cost
// O(sites) per allocation while a program grows. Instead the copy is taken only when the peak
// is about to be left (the first decrease after a new high-water mark), and only for the sites
// whose bytes changed since the previous copy (a dirty list, reset by an epoch counter). Each
// allocation or free adds a site to the dirty list at most once per copy, so the cost is
// amortised O(1) per event, and "bytes at peak" is exact, not an approximation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "engine/chunked_vector.h"

namespace memslim::engine {

class PeakTracker {
  public:
    void on_alloc(std::uint32_t site, std::int64_t bytes) {
        SiteBytes& s = ensure(site);
        touch(s, site);
        s.live += bytes;
        s.allocated += bytes;
        if (++s.allocations == 0) ++allocations_high_[site];
        current_ += bytes;
        if (current_ > peak_) {
            peak_ = current_;
            peak_saved_ = false;
        }
    }

    void on_free(std::uint32_t site, std::int64_t bytes) {
        if (!peak_saved_ && current_ == peak_) save_peak();
        SiteBytes& s = ensure(site);
        touch(s, site);
        // A site's own peak is where its bytes first decline from (as the run's peak is saved
        // here): checked on a free, not on every allocation of a site that grows.
        if (s.live > s.high) [[unlikely]] {
            note_high(s, site);
        }
        s.live -= bytes;
        current_ -= bytes;
    }

    // Makes at_peak() current (call before reading it; the program may be at its peak now).
    void finish() {
        if (!peak_saved_) save_peak();
    }

    [[nodiscard]] std::int64_t current() const { return current_; }
    [[nodiscard]] std::int64_t peak() const { return peak_; }
    // Incremented each time the bytes at peak are recorded anew.
    [[nodiscard]] std::uint64_t peak_saves() const { return peak_saves_; }
    [[nodiscard]] std::size_t sites() const { return sites_.size(); }
    [[nodiscard]] std::int64_t live(std::uint32_t site) const { return get(site).live; }
    [[nodiscard]] std::int64_t at_peak(std::uint32_t site) const {
        return site < cold_.size() ? cold_[site].at_peak : 0;
    }
    [[nodiscard]] std::int64_t allocated(std::uint32_t site) const { return get(site).allocated; }
    // The most bytes the site ever held live (its own peak), and all live bytes when they
    // first fell from there (or now, if they never did): what the run's peak would be at that
    // moment without the site's bytes, plus them.
    [[nodiscard]] std::int64_t high(std::uint32_t site) const {
        const SiteBytes& s = get(site);
        return s.live > s.high ? s.live : s.high;
    }
    [[nodiscard]] std::int64_t total_at_high(std::uint32_t site) const {
        const SiteBytes& s = get(site);
        if (s.live > s.high) return current_;
        return site < cold_.size() ? cold_[site].total_at_high : 0;
    }
    [[nodiscard]] std::uint64_t allocations(std::uint32_t site) const {
        const auto high = allocations_high_.find(site);
        return get(site).allocations + (high == allocations_high_.end() ? 0 : high->second << 32);
    }
    [[nodiscard]] std::size_t memory_bytes() const {
        return sites_.memory_bytes() + cold_.memory_bytes() +
               dirty_.capacity() * sizeof(std::uint32_t);
    }

  private:
    // What every allocation or free of a site reads or writes, 32 bytes: an event touches one
    // cache line (48 bytes, with the two fields of Cold, ran the 8-thread bench job 6% slower).
    // Allocation counts above 2^32 per site are kept in `allocations_high`.
    struct SiteBytes {
        std::int64_t live = 0;
        std::int64_t allocated = 0;
        std::int64_t high = 0;
        std::uint32_t allocations = 0;
        std::uint32_t stamp = 0;
    };
    // Written when the peak is left (save_peak, the sites changed since) or a site falls from
    // a new high of its own.
    struct Cold {
        std::int64_t at_peak = 0;
        std::int64_t total_at_high = 0;
    };

    // Inline: on every allocation and free the site is nearly always there already.
    SiteBytes& ensure(std::uint32_t site) {
        if (site >= sites_.size()) [[unlikely]] {
            grow(site);
        }
        return sites_[site];
    }
    // Out of line: the free path stays as small as it was (seldom taken: 975 times in the
    // 8-thread bench job, 2.2 million in the JSON/CSV job's, which allocates 20 million blocks).
    [[gnu::noinline]] void note_high(SiteBytes& s, std::uint32_t site) {
        s.high = s.live;
        cold_[site].total_at_high = current_;
    }
    [[gnu::noinline]] void grow(std::uint32_t site) {
        sites_.resize_at_least(site + 1);
        cold_.resize_at_least(site + 1);
    }
    [[nodiscard]] const SiteBytes& get(std::uint32_t site) const {
        static const SiteBytes kNone{};
        return site < sites_.size() ? sites_[site] : kNone;
    }
    void touch(SiteBytes& s, std::uint32_t site) {
        if (s.stamp != epoch_) {
            s.stamp = epoch_;
            dirty_.push_back(site);
        }
    }
    void save_peak() {
        for (std::uint32_t site : dirty_) cold_[site].at_peak = sites_[site].live;
        dirty_.clear();
        ++epoch_;
        ++peak_saves_;
        peak_saved_ = true;
    }

    ChunkedVector<SiteBytes> sites_;
    ChunkedVector<Cold> cold_;  // as many as sites_
    std::unordered_map<std::uint32_t, std::uint64_t> allocations_high_;
    std::vector<std::uint32_t> dirty_;
    std::uint32_t epoch_ = 1;
    std::int64_t current_ = 0;
    std::int64_t peak_ = 0;
    bool peak_saved_ = true;
    std::uint64_t peak_saves_ = 0;
};

}  // namespace memslim::engine
