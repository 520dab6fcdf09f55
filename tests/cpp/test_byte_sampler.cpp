// Statistical tests for engine/byte_sampler. Fixed seeds; tolerances stated in standard errors.
#include "engine/byte_sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using memslim::engine::ByteSampler;

TEST(ByteSampler, WeightIsSizeOverSamplingProbability) {
    ByteSampler sampler(1000.0, 1);
    EXPECT_EQ(sampler.weight(1000),
              static_cast<std::uint64_t>(std::llround(1000 / (1 - std::exp(-1.0)))));
    EXPECT_NEAR(static_cast<double>(sampler.weight(1000000)), 1000000.0, 1.0);  // always sampled
    EXPECT_NEAR(static_cast<double>(sampler.weight(1)), 1000.5, 1.0);           // ~ mean + 1/2
}

TEST(ByteSampler, EstimatedTotalIsUnbiasedWithinFourSigma) {
    // One million allocations of mixed sizes; the estimate of their total must be within four
    // standard errors of the truth, for each of several seeds.
    const double mean = 4096.0;
    for (std::uint64_t seed : {11u, 22u, 33u, 44u, 55u}) {
        ByteSampler sampler(mean, seed);
        std::mt19937_64 sizes(seed * 7919);
        double truth = 0, estimate = 0, variance = 0;
        for (int i = 0; i < 1000000; ++i) {
            std::uint64_t size = 8 + sizes() % 1024;
            if (i % 1000 == 0) size = 100000;  // a few large blocks
            truth += static_cast<double>(size);
            estimate += static_cast<double>(sampler.sample(size));
            const double s = static_cast<double>(size);
            const double p = -std::expm1(-s / mean);
            variance += s * s * (1 - p) / p;  // Var of w * 1{sampled}
        }
        const double sigma = std::sqrt(variance);
        EXPECT_LT(std::abs(estimate - truth), 4 * sigma) << "seed " << seed;
        EXPECT_LT(std::abs(estimate - truth) / truth, 0.01) << "seed " << seed;
    }
}

TEST(ByteSampler, SamplesAboutOncePerMeanBytes) {
    ByteSampler sampler(512.0, 3);
    int samples = 0;
    const int n = 2000000;
    for (int i = 0; i < n; ++i) samples += sampler.sample(16) != 0;
    // Each 16-byte allocation is sampled with p = 1 - exp(-16/512); binomial, 4 sigma.
    const double p = -std::expm1(-16.0 / 512.0);
    const double expected = n * p;
    EXPECT_LT(std::abs(samples - expected), 4 * std::sqrt(n * p * (1 - p)));
}

// variance_term(w) finds the size again from the weight alone: w * (w - s), the Horvitz-Thompson
// term (1 - p) / p^2 * s^2 of a sampled block of size s.
TEST(ByteSampler, VarianceTermIsTheSampledBlocksShareOfTheVariance) {
    const double mean = 262144.0;
    const ByteSampler sampler(mean, 1);
    for (std::uint64_t size : {16u, 1000u, 65536u, 262144u, 1000000u, 10000000u}) {
        const std::uint64_t w = sampler.weight(size);
        const double s = static_cast<double>(size);
        const double p = -std::expm1(-s / mean);
        const double truth = (1 - p) / (p * p) * s * s;
        // The weight is rounded to a byte: the size found again is off by up to a byte or two
        // in a quarter mebibyte for the smallest blocks (w - s is then about the mean).
        EXPECT_NEAR(ByteSampler::variance_term(w, mean), truth, 1e-4 * truth + 2.0 * mean)
            << "size " << size;
    }
    // The estimated variance of a sum of many small samples: about mean x total.
    double variance = 0;
    double total = 0;
    ByteSampler sampling(mean, 5);
    for (int i = 0; i < 2000000; ++i) {
        total += 64;
        const std::uint64_t w = sampling.sample(64);
        if (w != 0) variance += ByteSampler::variance_term(w, mean);
    }
    EXPECT_NEAR(std::sqrt(variance) / std::sqrt(mean * total), 1.0, 0.1);
}
