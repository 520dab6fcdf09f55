// Unit tests for engine/peak_tracker: bytes at peak equal a brute-force copy at the peak.
#include "engine/peak_tracker.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

using memslim::engine::PeakTracker;

TEST(PeakTracker, RecordsLiveBytesAtTheHighWaterMark) {
    PeakTracker peak;
    peak.on_alloc(1, 100);
    peak.on_alloc(2, 50);
    peak.on_free(1, 100);  // peak 150 is left here: site 1 had 100, site 2 had 50
    peak.on_alloc(3, 20);
    peak.finish();
    EXPECT_EQ(peak.peak(), 150);
    EXPECT_EQ(peak.current(), 70);
    EXPECT_EQ(peak.at_peak(1), 100);
    EXPECT_EQ(peak.at_peak(2), 50);
    EXPECT_EQ(peak.at_peak(3), 0);
    EXPECT_EQ(peak.allocated(1), 100);
    EXPECT_EQ(peak.allocations(2), 1u);
}

TEST(PeakTracker, FinishCapturesAPeakThatIsNeverLeft) {
    PeakTracker peak;
    peak.on_alloc(0, 10);
    peak.on_free(0, 10);
    peak.on_alloc(4, 30);
    peak.finish();
    EXPECT_EQ(peak.peak(), 30);
    EXPECT_EQ(peak.at_peak(4), 30);
    EXPECT_EQ(peak.at_peak(0), 0);
}

// A random walk of `steps` allocations and frees (slightly more allocations) over `sites`
// sites, given to `peak`; after each step, `each(live bytes per site, all live bytes, the site
// freed or `sites` for an allocation)`.
template <class Each>
void random_walk(PeakTracker& peak, std::uint64_t seed, std::uint32_t sites, int steps,
                 Each each) {
    std::mt19937_64 rng(seed);
    std::vector<std::int64_t> live(sites, 0);
    std::int64_t current = 0;
    std::vector<std::pair<std::uint32_t, std::int64_t>> blocks;
    for (int step = 0; step < steps; ++step) {
        std::uint32_t freed = sites;
        if (blocks.empty() || rng() % 100 < 52) {
            auto site = static_cast<std::uint32_t>(rng() % sites);
            std::int64_t bytes = 1 + static_cast<std::int64_t>(rng() % 500);
            peak.on_alloc(site, bytes);
            blocks.push_back({site, bytes});
            live[site] += bytes;
            current += bytes;
        } else {
            std::size_t k = rng() % blocks.size();
            auto [site, bytes] = blocks[k];
            blocks[k] = blocks.back();
            blocks.pop_back();
            peak.on_free(site, bytes);
            live[site] -= bytes;
            current -= bytes;
            freed = site;
        }
        each(live, current, freed);
    }
}

TEST(PeakTracker, RandomWalkMatchesBruteForce) {
    PeakTracker peak;
    const std::uint32_t sites = 50;
    std::vector<std::int64_t> best(sites, 0);
    std::int64_t high = 0;
    random_walk(peak, 7, sites, 200000,
                [&](const std::vector<std::int64_t>& live, std::int64_t current, std::uint32_t) {
                    if (current > high) {
                        high = current;
                        best = live;
                    }
                });
    peak.finish();
    EXPECT_EQ(peak.peak(), high);
    for (std::uint32_t s = 0; s < sites; ++s) EXPECT_EQ(peak.at_peak(s), best[s]) << s;
    EXPECT_GT(peak.peak_saves(), 1u);
}

// Each site's own peak (the most it held live) and everything live when it first fell from
// there, or at the end if it never did: found from the whole history of a random walk.
TEST(PeakTracker, OwnPeaksMatchTheWalksHistory) {
    PeakTracker peak;
    const std::uint32_t sites = 20;
    std::vector<std::vector<std::int64_t>> live_after;  // per step, every site's live bytes
    std::vector<std::int64_t> current_after;
    std::vector<std::uint32_t> freed_site;  // per step, the site freed (`sites`: none)
    random_walk(peak, 11, sites, 20000,
                [&](const std::vector<std::int64_t>& live, std::int64_t current,
                    std::uint32_t freed) {
                    live_after.push_back(live);
                    current_after.push_back(current);
                    freed_site.push_back(freed);
                });
    for (std::uint32_t s = 0; s < sites; ++s) {
        std::int64_t most = 0;
        std::size_t reached = 0;
        for (std::size_t t = 0; t < live_after.size(); ++t) {
            if (live_after[t][s] > most) most = live_after[t][s], reached = t;
        }
        std::int64_t total = current_after.back();  // never fell from it: now
        for (std::size_t t = reached + 1; t < live_after.size(); ++t) {
            if (freed_site[t] == s) {
                total = current_after[t - 1];  // just before the first fall
                break;
            }
        }
        EXPECT_EQ(peak.high(s), most) << s;
        EXPECT_EQ(peak.total_at_high(s), total) << s;
    }
}
