// Unit tests for engine/heap_graph: CSR, dominators against brute force, retained sizes, paths.
#include "engine/heap_graph.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

using memslim::engine::dominators;
using memslim::engine::HeapGraph;
using memslim::engine::kNoNode;
using memslim::engine::NodeId;
using memslim::engine::ShortestPaths;

namespace {
HeapGraph make(std::size_t n, const std::vector<std::pair<NodeId, NodeId>>& edges) {
    std::vector<NodeId> from, to;
    for (auto [f, t] : edges) {
        from.push_back(f);
        to.push_back(t);
    }
    return HeapGraph(n, std::move(from), std::move(to));
}

// Nodes reachable from root when `removed` is deleted.
std::vector<bool> reachable(const HeapGraph& g, NodeId root, NodeId removed) {
    std::vector<bool> seen(g.nodes(), false);
    if (root == removed) return seen;
    std::vector<NodeId> stack{root};
    seen[root] = true;
    while (!stack.empty()) {
        NodeId n = stack.back();
        stack.pop_back();
        for (NodeId s : g.successors(n)) {
            if (s != removed && !seen[s]) {
                seen[s] = true;
                stack.push_back(s);
            }
        }
    }
    return seen;
}
}  // namespace

TEST(HeapGraph, CsrKeepsEverySuccessor) {
    auto g = make(4, {{0, 1}, {0, 2}, {2, 3}, {1, 3}, {3, 3}});
    EXPECT_EQ(g.nodes(), 4u);
    EXPECT_EQ(g.edges(), 5u);
    EXPECT_EQ(g.successors(0).size(), 2u);
    EXPECT_EQ(g.successors(3).size(), 1u);
}

TEST(Dominators, DiamondAndRetainedSizes) {
    // 0 -> 1 -> {2, 3} -> 4; 0 -> 5 (5 unreachable from nothing else)
    auto g = make(6, {{0, 1}, {1, 2}, {1, 3}, {2, 4}, {3, 4}, {0, 5}});
    std::vector<std::uint64_t> sizes = {0, 10, 20, 30, 40, 50};
    auto tree = dominators(g, 0, sizes);
    EXPECT_EQ(tree.idom[1], 0u);
    EXPECT_EQ(tree.idom[2], 1u);
    EXPECT_EQ(tree.idom[3], 1u);
    EXPECT_EQ(tree.idom[4], 1u);  // reached through 2 or 3: neither alone retains it
    EXPECT_EQ(tree.retained[1], 10u + 20 + 30 + 40);
    EXPECT_EQ(tree.retained[2], 20u);
    EXPECT_EQ(tree.retained[0], 150u);
}

TEST(Dominators, CyclesAndUnreachableNodes) {
    auto g = make(5, {{0, 1}, {1, 2}, {2, 1}, {2, 3}, {4, 3}});
    std::vector<std::uint64_t> sizes = {0, 1, 2, 4, 8};
    auto tree = dominators(g, 0, sizes);
    EXPECT_EQ(tree.idom[2], 1u);
    EXPECT_EQ(tree.idom[3], 2u);
    EXPECT_EQ(tree.idom[4], kNoNode);
    EXPECT_EQ(tree.retained[1], 7u);
    EXPECT_EQ(tree.retained[4], 8u);
}

namespace {
// d dominates v iff v is unreachable once d is removed. The immediate dominator is the
// dominator of v that every other dominator of v dominates: the one with most dominators.
// Retained size of v (all sizes 1) = number of reachable nodes it dominates, itself included.
void expect_brute_force_dominators(const HeapGraph& g, int round) {
    const auto n = static_cast<NodeId>(g.nodes());
    std::vector<std::uint64_t> sizes(n, 1);
    auto tree = dominators(g, 0, sizes);
    const auto reached = reachable(g, 0, kNoNode);
    for (NodeId v = 1; v < n; ++v) {
        if (!reached[v]) {
            ASSERT_EQ(tree.idom[v], kNoNode) << "round " << round << " node " << v;
            continue;
        }
        std::vector<NodeId> doms;
        for (NodeId d = 0; d < n; ++d) {
            if (d != v && !reachable(g, 0, d)[v]) doms.push_back(d);
        }
        NodeId expected = 0;
        std::size_t best = 0;
        for (NodeId d : doms) {
            std::size_t count = 0;
            for (NodeId e : doms) count += (e != d && !reachable(g, 0, e)[d]) ? 1 : 0;
            if (count >= best) {
                best = count;
                expected = d;
            }
        }
        ASSERT_EQ(tree.idom[v], expected) << "round " << round << " node " << v;
        std::uint64_t dominated = 1;
        auto without = reachable(g, 0, v);
        for (NodeId u = 1; u < n; ++u) dominated += (u != v && reached[u] && !without[u]) ? 1 : 0;
        ASSERT_EQ(tree.retained[v], dominated) << "round " << round << " node " << v;
    }
}
}  // namespace

TEST(Dominators, RandomGraphsMatchBruteForce) {
    std::mt19937 rng(5);
    for (int round = 0; round < 30; ++round) {
        const NodeId n = 40;
        std::vector<std::pair<NodeId, NodeId>> edges;
        for (NodeId v = 1; v < n; ++v) edges.push_back({static_cast<NodeId>(rng() % v), v});
        for (int e = 0; e < 30; ++e)
            edges.push_back({static_cast<NodeId>(rng() % n), static_cast<NodeId>(rng() % n)});
        expect_brute_force_dominators(make(n, edges), round);
    }
}

// Leaves (no successors) take their dominators apart from the iteration: leaves referred to
// from many places (a heap's shared dict keys), from one, from nodes in cycles, duplicate
// edges, and leaves nothing reaches.
TEST(Dominators, SharedLeavesMatchBruteForce) {
    std::mt19937 rng(11);
    for (int round = 0; round < 30; ++round) {
        const NodeId inner = 25;  // nodes 0..24 may have successors; 25..39 are leaves
        const NodeId n = 40;
        std::vector<std::pair<NodeId, NodeId>> edges;
        for (NodeId v = 1; v < inner; ++v) edges.push_back({static_cast<NodeId>(rng() % v), v});
        for (int e = 0; e < 15; ++e) {
            edges.push_back(
                {static_cast<NodeId>(rng() % inner), static_cast<NodeId>(rng() % inner)});
        }
        for (NodeId leaf = inner; leaf < n - 2; ++leaf) {  // the last two: unreachable
            const int referrers = 1 + static_cast<int>(rng() % (leaf % 3 == 0 ? 12 : 3));
            for (int r = 0; r < referrers; ++r) {
                edges.push_back({static_cast<NodeId>(rng() % inner), leaf});
            }
        }
        expect_brute_force_dominators(make(n, edges), round);
    }
}

TEST(ShortestPath, FewestEdges) {
    auto g = make(6, {{0, 1}, {1, 2}, {2, 3}, {0, 4}, {4, 3}, {3, 5}});
    const ShortestPaths from_root(g, 0);
    EXPECT_EQ(from_root.to(5), (std::vector<NodeId>{0, 4, 3, 5}));
    EXPECT_EQ(from_root.to(0), (std::vector<NodeId>{0}));
    EXPECT_TRUE(ShortestPaths(g, 5).to(0).empty());
}

TEST(Dominators, LongChainNoRecursion) {
    const NodeId n = 1'000'000;
    std::vector<NodeId> from, to;
    for (NodeId v = 0; v + 1 < n; ++v) {
        from.push_back(v);
        to.push_back(v + 1);
    }
    HeapGraph g(n, std::move(from), std::move(to));
    std::vector<std::uint64_t> sizes(n, 2);
    auto tree = dominators(g, 0, sizes);
    EXPECT_EQ(tree.idom[n - 1], n - 2);
    EXPECT_EQ(tree.retained[0], 2ull * n);
}

// A doubly linked list held at both ends (head and tail in one dict): every node is reached
// from either end, so the dict is each node's immediate dominator. Cooper, Harvey and Kennedy's
// iteration took a pass over the whole graph per node of such a cycle (2,000 nodes: 2 s a
// census of a real heap); this is one pass.
TEST(Dominators, DoublyLinkedListHeldAtBothEnds) {
    const NodeId length = 200'000;
    const NodeId n = length + 3;  // 0 root, 1 dict, 2 .. length + 1 the list, n - 1 a leaf
    std::vector<NodeId> from{0, 1, 1}, to{1, 2, length + 1};
    for (NodeId v = 2; v < length + 1; ++v) {
        from.insert(from.end(), {v, v + 1});
        to.insert(to.end(), {v + 1, v});
    }
    for (NodeId v = 2; v < length + 2; ++v) {  // every node refers to one shared leaf
        from.push_back(v);
        to.push_back(n - 1);
    }
    HeapGraph g(n, std::move(from), std::move(to));
    std::vector<std::uint64_t> sizes(n, 3);
    auto tree = dominators(g, 0, sizes);
    for (NodeId v = 2; v < length + 2; ++v) ASSERT_EQ(tree.idom[v], 1u) << v;
    EXPECT_EQ(tree.idom[n - 1], 1u);
    EXPECT_EQ(tree.retained[1], 3ull * (length + 2));
    EXPECT_EQ(tree.retained[2], 3u);
}

// Random graphs with long cycles (rings of a few hundred nodes, entered at several points),
// against the brute-force definition.
TEST(Dominators, LongCyclesMatchBruteForce) {
    std::mt19937 rng(23);
    for (int round = 0; round < 10; ++round) {
        const NodeId n = 300;
        std::vector<std::pair<NodeId, NodeId>> edges;
        for (NodeId v = 1; v < n; ++v) {
            edges.push_back({v, static_cast<NodeId>(v + 1 < n ? v + 1 : 1)});
            edges.push_back({static_cast<NodeId>(v + 1 < n ? v + 1 : 1), v});
        }
        for (int e = 0; e < 4; ++e) edges.push_back({0, static_cast<NodeId>(1 + rng() % (n - 1))});
        for (int e = 0; e < 20; ++e) {
            edges.push_back({static_cast<NodeId>(rng() % n), static_cast<NodeId>(rng() % n)});
        }
        expect_brute_force_dominators(make(n, edges), round);
    }
}
