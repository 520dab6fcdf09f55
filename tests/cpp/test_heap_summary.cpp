// Tests for engine/heap_summary.h on graphs small enough to work out by hand.
#include "engine/heap_summary.h"

#include <gtest/gtest.h>

#include <vector>

namespace memslim::engine {
namespace {

struct Heap {
    HeapGraph graph;
    DominatorTree tree;
};

Heap heap(std::size_t nodes, std::vector<std::pair<NodeId, NodeId>> edges,
          const std::vector<std::uint64_t>& sizes) {
    std::vector<NodeId> from, to;
    for (auto [a, b] : edges) {
        from.push_back(a);
        to.push_back(b);
    }
    Heap h{HeapGraph(nodes, std::move(from), std::move(to)), {}};
    h.tree = dominators(h.graph, 0, sizes);
    return h;
}

constexpr std::uint32_t kNone = 0xFFFFFFFFu;
auto any = [](NodeId) { return true; };
auto none = [](NodeId) { return false; };

TEST(TypeTotals, ANestedObjectOfTheSameTypeIsCountedOnceInRetained) {
    // root -> a1 (10 B) -> a2 (20 B) -> b3 (5 B); root -> b4 (7 B); a5 (3 B) unreachable.
    const std::vector<std::uint64_t> sizes{0, 10, 20, 5, 7, 3};
    const Heap h = heap(6, {{0, 1}, {1, 2}, {2, 3}, {0, 4}}, sizes);
    const std::vector<std::uint32_t> types{kNone, 0, 0, 1, 1, 0};
    const auto totals = type_totals(types, sizes, h.tree, 2, kNone);
    ASSERT_EQ(totals.size(), 2u);
    EXPECT_EQ(totals[0].count, 3u);
    EXPECT_EQ(totals[0].bytes, 33u);
    EXPECT_EQ(totals[0].retained, 35u + 3u);  // a1 holds a2 and b3; a5 only itself
    EXPECT_EQ(totals[0].largest, 35u);
    EXPECT_EQ(totals[1].count, 2u);
    EXPECT_EQ(totals[1].bytes, 12u);
    EXPECT_EQ(totals[1].retained, 12u);  // b3 below an object of another type is a top
    EXPECT_EQ(totals[1].largest, 7u);
}

TEST(TypeTotals, AnObjectHeldFromTwoPlacesIsRetainedByNeither) {
    // root -> a1 (10 B) -> b3 (5 B) <- b2 (7 B) <- root: b3 is dominated by the root only.
    const std::vector<std::uint64_t> sizes{0, 10, 7, 5};
    const Heap h = heap(4, {{0, 1}, {1, 3}, {0, 2}, {2, 3}}, sizes);
    const std::vector<std::uint32_t> types{kNone, 0, 1, 1};
    const auto totals = type_totals(types, sizes, h.tree, 3, kNone);
    EXPECT_EQ(totals[0].retained, 10u);
    EXPECT_EQ(totals[1].retained, 12u);
    EXPECT_EQ(totals[1].largest, 7u);
    EXPECT_EQ(totals[2].count, 0u);  // a type with no object
}

TEST(ChooseRetainers, ADominatedNodeThatAddsLittleIsShadowed) {
    // root -> 1 (1 B) -> 2 (1 B) -> 3 (100 B): 2 and 3 retain over 90% of what 1 retains.
    // root -> 4 (50 B); root -> 5 (60 B, not a candidate); root -> 6 (40 B, structure);
    // 7 (1000 B) unreachable.
    const Heap h =
        heap(8, {{0, 1}, {1, 2}, {2, 3}, {0, 4}, {0, 5}, {0, 6}}, {0, 1, 1, 100, 50, 60, 40, 1000});
    auto candidate = [](NodeId node) { return node != 5; };
    auto structure = [](NodeId node) { return node == 6; };
    EXPECT_EQ(choose_retainers(h.tree, 10, candidate, structure), (std::vector<NodeId>{1, 4}));
    EXPECT_EQ(choose_retainers(h.tree, 1, candidate, structure), (std::vector<NodeId>{1}));
    EXPECT_EQ(choose_retainers(h.tree, 10, any, none), (std::vector<NodeId>{1, 5, 4, 6}));
}

TEST(ChooseRetainers, ADominatedNodeThatHoldsLessIsItsOwnRetainer) {
    // root -> 1 (60 B) -> 2 (50 B): 2 retains 50 of 1's 110 B, under 90%.
    const Heap h = heap(3, {{0, 1}, {1, 2}}, {0, 60, 50});
    EXPECT_EQ(choose_retainers(h.tree, 10, any, none), (std::vector<NodeId>{1, 2}));
    // Exactly 90% is shadowed: 1 (10 B) -> 2 (90 B) retains 90 of 100.
    const Heap edge = heap(3, {{0, 1}, {1, 2}}, {0, 10, 90});
    EXPECT_EQ(choose_retainers(edge.tree, 10, any, none), (std::vector<NodeId>{1}));
}

TEST(ChooseRetainers, TheLargestOfManyLargestFirst) {
    // 1,000 leaves of the root, leaf i of i bytes: more than the bounded heap reads.
    std::vector<std::pair<NodeId, NodeId>> edges;
    std::vector<std::uint64_t> sizes{0};
    for (NodeId i = 1; i <= 1000; ++i) {
        edges.emplace_back(0, i);
        sizes.push_back(i);
    }
    const Heap h = heap(1001, edges, sizes);
    EXPECT_EQ(choose_retainers(h.tree, 3, any, none), (std::vector<NodeId>{1000, 999, 998}));
    EXPECT_TRUE(choose_retainers(h.tree, 0, any, none).empty());
}

TEST(SubtreeSums, EqualTheTreesRetainedSizesForTheSameWeights) {
    // root -> 1 -> {2, 3}; 2 -> 4; root -> 5; 3 -> 5 (5 held twice: the root's); 6 unreachable.
    const std::vector<std::uint64_t> sizes{0, 1, 2, 4, 8, 16, 32};
    const Heap h = heap(7, {{0, 1}, {1, 2}, {1, 3}, {2, 4}, {0, 5}, {3, 5}}, sizes);
    const auto sums = subtree_sums(h.tree, [&](NodeId v) { return sizes[v]; });
    for (NodeId v = 0; v < 6; ++v) EXPECT_EQ(sums[v], h.tree.retained[v]) << v;
    EXPECT_EQ(sums[6], 0u);  // not reached: no sum
}

TEST(ChooseRetainers, ByAnotherMeasureTheLargestHolderOfItIsFirst) {
    // root -> 1 (1000 B of old objects); root -> 2 (10 B, old) -> {3 (50 B), 4 (20 B)}, new.
    // Counting only the new bytes, 2 holds 70 and 1 nothing: 1 is no retainer.
    const std::vector<std::uint64_t> sizes{0, 1000, 10, 50, 20};
    const Heap h = heap(5, {{0, 1}, {0, 2}, {2, 3}, {2, 4}}, sizes);
    const auto fresh = subtree_sums(h.tree, [&](NodeId v) { return v >= 3 ? sizes[v] : 0; });
    EXPECT_EQ(fresh[2], 70u);
    EXPECT_EQ(choose_retainers(h.tree, fresh, 10, any, none), (std::vector<NodeId>{2, 3, 4}));
    EXPECT_EQ(choose_retainers(h.tree, 10, any, none), (std::vector<NodeId>{1, 2, 3, 4}));
}

TEST(ChooseRetainers, ANodeHoldingNoMoreThanOneChosenBelowItIsLeftOut) {
    // root -> 1 (old) -> 2 (old) -> 3 (new, 50 B): by the new bytes all three hold 50, and
    // whichever is read first, one of them is shown.
    const std::vector<std::uint64_t> sizes{0, 10, 10, 50};
    const Heap h = heap(4, {{0, 1}, {1, 2}, {2, 3}}, sizes);
    const auto fresh = subtree_sums(h.tree, [&](NodeId v) { return v == 3 ? sizes[v] : 0; });
    EXPECT_EQ(choose_retainers(h.tree, fresh, 10, any, none).size(), 1u);
}

}  // namespace
}  // namespace memslim::engine
