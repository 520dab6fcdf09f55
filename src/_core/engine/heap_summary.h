// heap_summary.h — what a census shows of a dominator tree: the top retainers, and per-type
// totals (count, bytes, retained bytes, largest retained) of a saved snapshot.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/heap_graph.h"

namespace memslim::engine {

// A node is shadowed by a chosen node above it (one of its dominators) when it retains at
// least this share of what that node retains: it shows nothing the chosen one does not.
inline constexpr std::uint64_t kShadowNumerator = 9;
inline constexpr std::uint64_t kShadowDenominator = 10;

// The largest retainers of `tree` (by `retained`, one value per node, largest first; the
// tree's own retained sizes in the overload below), at most `top`. A node retaining nothing
// is never chosen. Only
// nodes that the root reaches and for which `candidate(node)` holds are considered (the
// caller leaves out program structure: modules, classes, functions); of those, only the
// largest `top * 64 + 256` are read (a bounded heap, not a sort of every node), in order, and
// each one is skipped when a chosen dominator shadows it or when `structure(node)` holds (a
// test too costly for every node: asked of the few read only).
template <class Candidate, class Structure>
    requires std::predicate<Candidate, NodeId> && std::predicate<Structure, NodeId>
std::vector<NodeId> choose_retainers(const DominatorTree& tree,
                                     std::span<const std::uint64_t> retained, std::size_t top,
                                     Candidate candidate, Structure structure) {
    const std::size_t head = top * 64 + 256;
    auto larger = [&](NodeId a, NodeId b) { return retained[a] > retained[b]; };
    std::vector<NodeId> order;
    order.reserve(head + 1);
    for (NodeId node = 1; node < tree.idom.size(); ++node) {
        if (tree.idom[node] == kNoNode || retained[node] == 0) continue;
        if (order.size() == head && !larger(node, order.front())) continue;
        if (!candidate(node)) continue;
        order.push_back(node);
        std::push_heap(order.begin(), order.end(), larger);
        if (order.size() > head) {
            std::pop_heap(order.begin(), order.end(), larger);
            order.pop_back();
        }
    }
    std::sort_heap(order.begin(), order.end(), larger);
    std::vector<NodeId> chosen;
    for (NodeId node : order) {
        if (chosen.size() >= top) break;
        bool shadowed = false;
        for (NodeId up = tree.idom[node]; up != 0 && up != kNoNode; up = tree.idom[up]) {
            if (std::find(chosen.begin(), chosen.end(), up) != chosen.end() &&
                retained[node] * kShadowDenominator >= retained[up] * kShadowNumerator) {
                shadowed = true;
                break;
            }
            if (up == tree.idom[up]) break;
        }
        // Nor when a chosen node below it already holds nearly all of it (by a measure other
        // than the tree's own, a dominator can retain no more than the node it dominates).
        for (std::size_t i = 0; i < chosen.size() && !shadowed; ++i) {
            if (retained[chosen[i]] * kShadowDenominator < retained[node] * kShadowNumerator) {
                continue;
            }
            for (NodeId up = tree.idom[chosen[i]]; up != 0 && up != kNoNode; up = tree.idom[up]) {
                if (up == node) {
                    shadowed = true;
                    break;
                }
                if (up == tree.idom[up]) break;
            }
        }
        if (!shadowed && !structure(node)) chosen.push_back(node);
    }
    return chosen;
}

template <class Candidate, class Structure>
    requires std::predicate<Candidate, NodeId> && std::predicate<Structure, NodeId>
std::vector<NodeId> choose_retainers(const DominatorTree& tree, std::size_t top,
                                     Candidate candidate, Structure structure) {
    return choose_retainers(tree, tree.retained, top, candidate, structure);
}

struct TypeTotals {
    std::uint64_t count = 0;
    std::uint64_t bytes = 0;     // the objects' own sizes
    std::uint64_t retained = 0;  // what the type's objects retain together, counted once
    std::uint64_t largest = 0;   // the largest one object of the type retains
};

// Per type (node_type[node] < types; `no_type` for nodes of none, such as the root): counts,
// own bytes, and retained bytes summed over the type's "tops", the nodes whose immediate
// dominator is the root or a node of another type — a node of the same type below one of them
// is already inside its retained size. A node the root does not reach is a top of its own.
std::vector<TypeTotals> type_totals(std::span<const std::uint32_t> node_type,
                                    std::span<const std::uint64_t> node_size,
                                    const DominatorTree& tree, std::size_t types,
                                    std::uint32_t no_type);

}  // namespace memslim::engine
