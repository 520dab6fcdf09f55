// byte_sampler.h — which allocations sample mode records, and what each sample stands for.
//
// The maths. Imagine every allocated byte is sampled independently with probability
// p = 1/mean (mean: the configured sampling interval in bytes). The gaps between sampled bytes
// are then geometric, which we approximate by an exponential with that mean: draw a countdown
// T ~ Exp(mean), subtract each allocation's size from it, and sample the allocation that drives
// it to zero or below. Because the exponential is memoryless, drawing a fresh countdown after
// each sample gives exactly the same process as continuing the old one; the bytes left over in
// a sampled allocation do not matter since it is recorded once, as a whole.
//
// An allocation of s bytes is therefore sampled with probability P(s) = 1 - exp(-s / mean)
// (the chance that at least one of its bytes is a sample point). Recording it with weight
// w(s) = s / P(s) makes the estimate unbiased: E[w(s) * 1{sampled}] = P(s) * s / P(s) = s, for
// every allocation and so for any sum of them at one instant (total live bytes, bytes per site,
// what was live at the moment of the peak). Large allocations (s >> mean) are always sampled
// with weight ~ s; small ones rarely, with a large weight. The relative standard error of an
// estimated total T is about sqrt(mean / T) for allocations much smaller than the mean.
//
// The peak itself is not such a sum: it is the highest of the run's estimates, and the highest
// of many noisy estimates lies above the true highest on average. The variance of one instant's
// estimate is estimated by the sum, over the samples live then, of (1 - P) / P^2 * s^2 =
// w * (w - s) (Horvitz-Thompson; variance_term): the tracker keeps it for the estimate at the
// peak, which the report shows as the peak's standard error. Measured on the bench jobs
// (2026-12-05, against exact mode's peak in another run): a heap that changes fast and is a few
// MiB (threads8: 5.3 MiB) is overstated by 37-56%, one of tens of MiB (black: 27.7) by up to
// 11%, one of hundreds (JSON/CSV, scikit-learn, pandas, NumPy) by 3% at most.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>

namespace memslim::engine {

class ByteSampler {
  public:
    ByteSampler(double mean_bytes, std::uint64_t seed) : mean_(mean_bytes), rng_(seed) {
        next_countdown();
    }

    // 0 if this allocation is not sampled, else the bytes it stands for (>= size).
    // Inline where it is called (every allocation in sample mode); the draw of the next gap
    // is a call of its own (sampled), so the countdown costs no more than its compare.
    std::uint64_t sample(std::uint64_t size) {
        if (static_cast<double>(size) < countdown_) [[likely]] {
            countdown_ -= static_cast<double>(size);
            return 0;
        }
        return sampled(size);
    }

    [[nodiscard]] std::uint64_t weight(std::uint64_t size) const {
        const double s = static_cast<double>(size);
        const double probability = -std::expm1(-s / mean_);
        return static_cast<std::uint64_t>(std::llround(s / probability));
    }

    [[nodiscard]] double mean() const { return mean_; }

    // What a sample of `weight` adds to the variance of a total it is part of: w * (w - s), s
    // the allocation's size, found again from the weight: x = s / mean solves
    // g(x) = x - r (1 - e^-x) = 0, r = w / mean. A function of the weight alone, so that what a
    // free takes away is exactly what its allocation added. Called once per sampled allocation
    // and per sampled free: Newton's method, about 3 steps and 0.1 us (bisection to the same
    // answer took 1.4 us). g is convex, and both r and 2 (r - 1) lie at or above its root
    // (x / (1 - e^-x) >= max(x, 1 + x / 2)): from the smaller of them every step moves down
    // onto the root, never past it.
    [[nodiscard]] static double variance_term(std::uint64_t weight, double mean) {
        const double ratio = static_cast<double>(weight) / mean;
        if (ratio <= 1.0) return 0.0;  // rounding of a tiny block's weight
        double x = std::min(ratio, 2.0 * (ratio - 1.0));
        for (int step = 0; step < 32; ++step) {
            const double kept = -std::expm1(-x);  // 1 - e^-x
            const double g = x - ratio * kept;
            const double slope = 1.0 - ratio * (1.0 - kept);
            if (!(g > 1e-15 * x) || !(slope > 0.0)) break;
            const double next = x - g / slope;
            if (!(next < x)) break;
            x = next;
        }
        const double size = x * mean;
        const double w = static_cast<double>(weight);
        return w > size ? w * (w - size) : 0.0;
    }

  private:
    [[gnu::noinline]] std::uint64_t sampled(std::uint64_t size) {
        next_countdown();
        return weight(size);
    }

    void next_countdown() { countdown_ = std::exponential_distribution<double>(1.0 / mean_)(rng_); }

    double mean_;
    double countdown_ = 0;
    std::mt19937_64 rng_;
};

}  // namespace memslim::engine
