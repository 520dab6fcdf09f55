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
// every allocation and so for any sum of them (total live bytes, bytes per site, the peak).
// Large allocations (s >> mean) are always sampled with weight ~ s; small ones rarely, with a
// large weight. The relative standard error of an estimated total T is about
// sqrt(mean / T) for allocations much smaller than the mean.
#pragma once

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
    std::uint64_t sample(std::uint64_t size) {
        if (static_cast<double>(size) < countdown_) {
            countdown_ -= static_cast<double>(size);
            return 0;
        }
        next_countdown();
        return weight(size);
    }

    [[nodiscard]] std::uint64_t weight(std::uint64_t size) const {
        const double s = static_cast<double>(size);
        const double probability = -std::expm1(-s / mean_);
        return static_cast<std::uint64_t>(std::llround(s / probability));
    }

    [[nodiscard]] double mean() const { return mean_; }

  private:
    void next_countdown() { countdown_ = std::exponential_distribution<double>(1.0 / mean_)(rng_); }

    double mean_;
    double countdown_ = 0;
    std::mt19937_64 rng_;
};

}  // namespace memslim::engine
