// heap_graph.h — an object graph in compressed sparse row form, and its dominator tree.
//
// Nodes are dense ids 0..n-1 (node 0 is the caller's root); edges are built from (from, to)
// pairs by a counting sort, so a graph of n nodes and m edges costs 4(n + 1) + 4m bytes plus
// the per-node payload (sizes). Dominators use Semi-NCA (Georgiadis' variant of Lengauer and
// Tarjan's algorithm, with path compression): O(m log n) on any shape, long cycles included,
// 4-byte arrays only, and no recursion.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace memslim::engine {

using NodeId = std::uint32_t;
constexpr NodeId kNoNode = 0xFFFFFFFFu;

class HeapGraph {
  public:
    HeapGraph() = default;
    // Builds the CSR from edge pairs (both vectors are consumed).
    HeapGraph(std::size_t nodes, std::vector<NodeId>&& from, std::vector<NodeId>&& to);
    // Takes a CSR as it is: node i's successors are targets[begin[i] .. begin[i + 1]), except
    // node 0's, which are `first` (when not empty) — so a caller that learns node 0's edges
    // last (a heap walk's roots) never moves the others to put them in front.
    HeapGraph(std::vector<std::uint32_t>&& begin, std::vector<NodeId>&& targets,
              std::vector<NodeId>&& first = {})
        : begin_(std::move(begin)), targets_(std::move(targets)), first_(std::move(first)) {}

    [[nodiscard]] std::size_t nodes() const { return begin_.empty() ? 0 : begin_.size() - 1; }
    [[nodiscard]] std::size_t edges() const { return targets_.size() + first_.size(); }
    [[nodiscard]] std::span<const NodeId> successors(NodeId node) const {
        if (node == 0 && !first_.empty()) return first_;
        return {targets_.data() + begin_[node], begin_[node + 1] - begin_[node]};
    }
    [[nodiscard]] std::size_t memory_bytes() const {
        return begin_.size() * sizeof(std::uint32_t) +
               (targets_.size() + first_.size()) * sizeof(NodeId);
    }

  private:
    std::vector<std::uint32_t> begin_;
    std::vector<NodeId> targets_;
    std::vector<NodeId> first_;  // node 0's successors, when given apart
};

struct DominatorTree {
    std::vector<NodeId> idom;  // immediate dominator; kNoNode if unreachable from the root
    std::vector<std::uint64_t> retained;  // bytes freed if the node went away (own included)
    // What computing idom held at once at its largest, besides the graph (freed since).
    std::size_t peak_bytes = 0;
};

// Immediate dominators of every node reachable from `root` (into `tree.idom`, kNoNode for the
// others; also sets `peak_bytes`); returns the reachable nodes, each after its immediate
// dominator. The predecessor graph it needs is freed before it returns.
std::vector<NodeId> immediate_dominators(const HeapGraph& graph, NodeId root, DominatorTree& tree);

// Retained sizes by another measure than `tree.retained`'s: `weight(node)` summed over each
// node's dominator subtree; 0 for a node the root does not reach.
template <class Weight>
    requires std::invocable<Weight, NodeId>
std::vector<std::uint64_t> subtree_sums(const DominatorTree& tree, Weight weight) {
    const std::size_t n = tree.idom.size();
    std::vector<std::uint64_t> sums(n, 0);
    if (n == 0) return sums;
    // Children as a CSR by immediate dominator, then a breadth-first order from node 0 (each
    // node after its dominator), summed back to front.
    std::vector<NodeId> begin(n + 1, 0);
    for (NodeId v = 1; v < n; ++v) {
        if (tree.idom[v] != kNoNode) ++begin[tree.idom[v] + 1];
    }
    for (std::size_t i = 0; i < n; ++i) begin[i + 1] += begin[i];
    std::vector<NodeId> children(begin[n]);
    std::vector<NodeId> fill(begin.begin(), begin.end() - 1);
    for (NodeId v = 1; v < n; ++v) {
        if (tree.idom[v] != kNoNode) children[fill[tree.idom[v]]++] = v;
    }
    std::vector<NodeId>().swap(fill);
    std::vector<NodeId> order{0};
    order.reserve(children.size() + 1);
    for (std::size_t i = 0; i < order.size(); ++i) {
        for (NodeId c = begin[order[i]]; c < begin[order[i] + 1]; ++c) order.push_back(children[c]);
    }
    for (const NodeId v : order) sums[v] = weight(v);
    for (std::size_t i = order.size(); i-- > 1;) sums[tree.idom[order[i]]] += sums[order[i]];
    return sums;
}

// Dominators of every node reachable from `root`, and retained sizes from `size_of(node)`.
template <class SizeOf>
    requires std::invocable<SizeOf, NodeId>
DominatorTree dominators(const HeapGraph& graph, NodeId root, SizeOf size_of) {
    DominatorTree tree;
    const std::vector<NodeId> order = immediate_dominators(graph, root, tree);
    tree.retained.resize(graph.nodes());
    for (NodeId v = 0; v < graph.nodes(); ++v) tree.retained[v] = size_of(v);
    for (std::size_t i = order.size(); i-- > 1;) {
        tree.retained[tree.idom[order[i]]] += tree.retained[order[i]];
    }
    return tree;
}

inline DominatorTree dominators(const HeapGraph& graph, NodeId root,
                                std::span<const std::uint64_t> sizes) {
    return dominators(graph, root,
                      [&](NodeId v) -> std::uint64_t { return v < sizes.size() ? sizes[v] : 0; });
}

// Shortest paths (fewest edges) from one root. One breadth-first search over the whole graph
// serves every target: a census asks for the paths of dozens of retainers, and a search per
// path was an eighth of the census's time on a heap of three million objects.
class ShortestPaths {
  public:
    ShortestPaths(const HeapGraph& graph, NodeId root);
    // From the root to `target`, both included; empty if `target` is unreachable.
    [[nodiscard]] std::vector<NodeId> to(NodeId target) const;

  private:
    NodeId root_;
    std::vector<NodeId> parent_;  // the node before each one on its path; kNoNode: unreached
};

}  // namespace memslim::engine
