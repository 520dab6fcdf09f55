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
#include <vector>

namespace memslim::engine {

class PeakTracker {
public:
    void on_alloc(std::uint32_t site, std::int64_t bytes) {
        ensure(site);
        touch(site);
        live_[site] += bytes;
        allocated_[site] += bytes;
        allocations_[site] += 1;
        current_ += bytes;
        if (current_ > peak_) {
            peak_ = current_;
            peak_saved_ = false;
        }
    }

    void on_free(std::uint32_t site, std::int64_t bytes) {
        ensure(site);
        if (!peak_saved_ && current_ == peak_) save_peak();
        touch(site);
        live_[site] -= bytes;
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
    [[nodiscard]] std::size_t sites() const { return live_.size(); }
    [[nodiscard]] std::int64_t live(std::uint32_t site) const { return site < live_.size() ? live_[site] : 0; }
    [[nodiscard]] std::int64_t at_peak(std::uint32_t site) const {
        return site < at_peak_.size() ? at_peak_[site] : 0;
    }
    [[nodiscard]] std::int64_t allocated(std::uint32_t site) const {
        return site < allocated_.size() ? allocated_[site] : 0;
    }
    [[nodiscard]] std::uint64_t allocations(std::uint32_t site) const {
        return site < allocations_.size() ? allocations_[site] : 0;
    }
    [[nodiscard]] std::size_t memory_bytes() const { return live_.capacity() * 44; }

private:
    void ensure(std::uint32_t site) {
        if (site < live_.size()) return;
        std::size_t n = site + 1;
        live_.resize(n, 0);
        at_peak_.resize(n, 0);
        allocated_.resize(n, 0);
        allocations_.resize(n, 0);
        stamp_.resize(n, 0);
    }
    void touch(std::uint32_t site) {
        if (stamp_[site] != epoch_) {
            stamp_[site] = epoch_;
            dirty_.push_back(site);
        }
    }
    void save_peak() {
        for (std::uint32_t site : dirty_) at_peak_[site] = live_[site];
        dirty_.clear();
        ++epoch_;
        ++peak_saves_;
        peak_saved_ = true;
    }

    std::vector<std::int64_t> live_;
    std::vector<std::int64_t> at_peak_;
    std::vector<std::int64_t> allocated_;
    std::vector<std::uint64_t> allocations_;
    std::vector<std::uint32_t> stamp_;
    std::vector<std::uint32_t> dirty_;
    std::uint32_t epoch_ = 1;
    std::int64_t current_ = 0;
    std::int64_t peak_ = 0;
    bool peak_saved_ = true;
    std::uint64_t peak_saves_ = 0;
};

}  // namespace memslim::engine
