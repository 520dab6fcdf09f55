// Unit tests for engine/reachable_walk: each node once, cycles, long chains.
#include "engine/reachable_walk.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <cstdint>
#include <vector>

using memslim::engine::ReachableWalk;

namespace {
// A small graph stored as adjacency lists; node i has address (i + 1) * 16.
struct Graph {
    std::vector<std::vector<std::size_t>> edges;
    static std::uintptr_t address(std::size_t i) { return (i + 1) * 16; }
    static std::size_t index(std::uintptr_t a) { return a / 16 - 1; }
};

std::vector<std::size_t> walk_order(const Graph& g, std::size_t root) {
    ReachableWalk walk;
    std::vector<std::size_t> order;
    walk.offer(Graph::address(root));
    std::uintptr_t node;
    while (walk.next(node)) {
        order.push_back(Graph::index(node));
        for (std::size_t child : g.edges[Graph::index(node)]) walk.offer(Graph::address(child));
    }
    return order;
}
}  // namespace

TEST(ReachableWalk, VisitsSharedNodeOnce) {
    // 0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3 (3 is shared)
    Graph g{{{1, 2}, {3}, {3}, {}}};
    auto order = walk_order(g, 0);
    EXPECT_EQ(order.size(), 4u);
    EXPECT_EQ(std::count(order.begin(), order.end(), 3u), 1);
}

TEST(ReachableWalk, TerminatesOnCyclesAndSelfLoops) {
    Graph g{{{1}, {2}, {0, 2}, {0}}};  // 0 -> 1 -> 2 -> 0, 2 -> 2; 3 unreachable
    auto order = walk_order(g, 0);
    EXPECT_EQ(order.size(), 3u);
    EXPECT_EQ(std::count(order.begin(), order.end(), 3u), 0);
}

TEST(ReachableWalk, MillionLongChainNeedsNoRecursion) {
    const std::size_t n = 1'000'000;
    Graph g;
    g.edges.resize(n);
    for (std::size_t i = 0; i + 1 < n; ++i) g.edges[i].push_back(i + 1);
    auto order = walk_order(g, 0);
    ASSERT_EQ(order.size(), n);
    EXPECT_EQ(order.front(), 0u);
    EXPECT_EQ(order.back(), n - 1);
}

TEST(ReachableWalk, OfferReportsWhetherNew) {
    ReachableWalk walk;
    EXPECT_TRUE(walk.offer(32));
    EXPECT_FALSE(walk.offer(32));
    EXPECT_TRUE(walk.was_seen(32));
    EXPECT_FALSE(walk.was_seen(48));
    EXPECT_EQ(walk.nodes_seen(), 1u);
    EXPECT_EQ(walk.pending(), 1u);
    std::uintptr_t node = 0;
    EXPECT_TRUE(walk.next(node));
    EXPECT_EQ(node, 32u);
    EXPECT_FALSE(walk.next(node));
}

TEST(ReachableWalk, MarkSeenDoesNotQueue) {
    ReachableWalk walk;
    EXPECT_TRUE(walk.mark_seen(64));
    EXPECT_FALSE(walk.offer(64));
    EXPECT_EQ(walk.pending(), 0u);
    EXPECT_EQ(walk.nodes_seen(), 1u);
}

TEST(ReachableWalk, NewPendingHandsOutEachQueuedNodeOnce) {
    ReachableWalk walk;
    std::vector<std::uintptr_t> handed;
    auto collect = [&](std::uintptr_t n) { handed.push_back(n); };
    walk.offer(16);
    walk.offer(32);
    walk.offer(48);
    walk.for_each_new_pending(collect);
    EXPECT_EQ(handed, (std::vector<std::uintptr_t>{16, 32, 48}));
    handed.clear();
    walk.for_each_new_pending(collect);
    EXPECT_TRUE(handed.empty());
    std::uintptr_t node = 0;
    walk.next(node);  // pops 48
    walk.offer(64);
    walk.offer(80);
    walk.for_each_new_pending(collect);
    EXPECT_EQ(handed, (std::vector<std::uintptr_t>{64, 80}));
    handed.clear();
    walk.next(node);  // 80
    walk.next(node);  // 64
    walk.next(node);  // 32: below what was handed out before, still not handed again
    walk.offer(96);
    walk.for_each_new_pending(collect);
    EXPECT_EQ(handed, (std::vector<std::uintptr_t>{96}));
}
