// heap_graph.cpp — CSR object graph, dominators, retained sizes, shortest paths.
#include "engine/heap_graph.h"

#include <algorithm>
#include <utility>

namespace memslim::engine {

HeapGraph::HeapGraph(std::size_t nodes, std::vector<NodeId>&& from, std::vector<NodeId>&& to) {
    begin_.assign(nodes + 1, 0);
    for (NodeId f : from) ++begin_[f + 1];
    for (std::size_t i = 0; i < nodes; ++i) begin_[i + 1] += begin_[i];
    targets_.resize(to.size());
    std::vector<std::uint32_t> cursor(begin_.begin(), begin_.end() - 1);
    for (std::size_t e = 0; e < from.size(); ++e) targets_[cursor[from[e]]++] = to[e];
    std::vector<NodeId>().swap(from);
    std::vector<NodeId>().swap(to);
}

namespace {

// Reverse post-order of the nodes reachable from root (iterative depth-first search).
std::vector<NodeId> reverse_post_order(const HeapGraph& graph, NodeId root) {
    std::vector<NodeId> order;
    std::vector<std::uint8_t> state(graph.nodes(), 0);    // 0 new, 1 on stack, 2 done
    std::vector<std::pair<NodeId, std::uint32_t>> stack;  // node, next successor index
    stack.push_back({root, 0});
    state[root] = 1;
    while (!stack.empty()) {
        auto& [node, next] = stack.back();
        auto successors = graph.successors(node);
        if (next < successors.size()) {
            NodeId child = successors[next++];
            if (state[child] == 0) {
                state[child] = 1;
                stack.push_back({child, 0});
            }
        } else {
            state[node] = 2;
            order.push_back(node);
            stack.pop_back();
        }
    }
    std::reverse(order.begin(), order.end());
    return order;
}

}  // namespace

std::vector<NodeId> immediate_dominators(const HeapGraph& graph, NodeId root, DominatorTree& tree) {
    const std::size_t n = graph.nodes();
    std::vector<NodeId>& idom = tree.idom;
    std::size_t& passes = tree.passes;
    idom.clear();
    passes = 0;
    tree.peak_bytes = 0;
    if (n == 0) return {};

    // The iteration runs on reverse post-order positions ("ranks"): the root is rank 0, a
    // node's rank compares directly in `intersect`. Predecessor lists (reachable nodes only) are
    // built in rank space by counting sort, for nodes that have successors only: a leaf (no
    // successors: a str, an int, bytes referred to from several places) is no node's
    // predecessor, so it takes no part in the iteration, and its immediate dominator is the
    // nearest common dominator of its predecessors, found once the others are final, in one
    // pass over the edges. On a JSON job's heap (427,000 nodes, 3.3 million edges, most of them
    // into dict keys shared by every record) that was most of the predecessor lists' 13 MB.
    std::vector<NodeId> order = reverse_post_order(graph, root);
    const auto reached = static_cast<std::uint32_t>(order.size());
    auto leaf = [&graph](NodeId node) { return graph.successors(node).empty(); };
    std::vector<std::uint32_t> rank(n, kNoNode);
    for (std::uint32_t i = 0; i < reached; ++i) rank[order[i]] = i;
    std::vector<std::uint32_t> begin(reached + 1, 0);
    std::vector<std::uint32_t> predecessors;
    {
        for (std::uint32_t i = 0; i < reached; ++i) {
            for (NodeId s : graph.successors(order[i])) {
                if (!leaf(s)) ++begin[rank[s] + 1];
            }
        }
        for (std::uint32_t i = 0; i < reached; ++i) begin[i + 1] += begin[i];
        predecessors.resize(begin[reached]);
        for (std::uint32_t i = 0; i < reached; ++i) {
            for (NodeId s : graph.successors(order[i])) {
                if (!leaf(s)) predecessors[begin[rank[s]]++] = i;
            }
        }
        for (std::uint32_t i = reached; i > 0; --i) begin[i] = begin[i - 1];
        begin[0] = 0;
    }

    std::vector<std::uint32_t> dom(reached, kNoNode);  // immediate dominator, by rank
    tree.peak_bytes =
        (order.size() + rank.size() + begin.size() + predecessors.size() + dom.size()) *
        sizeof(std::uint32_t);
    auto intersect = [&](std::uint32_t a, std::uint32_t b) {
        while (a != b) {
            while (a > b) a = dom[a];
            while (b > a) b = dom[b];
        }
        return a;
    };
    dom[0] = 0;
    bool changed = true;
    while (changed) {
        changed = false;
        ++passes;
        for (std::uint32_t i = 1; i < reached; ++i) {
            std::uint32_t candidate = kNoNode;
            for (std::uint32_t e = begin[i]; e < begin[i + 1]; ++e) {
                const std::uint32_t p = predecessors[e];
                if (dom[p] == kNoNode) continue;  // not processed yet
                candidate = candidate == kNoNode ? p : intersect(p, candidate);
            }
            if (candidate != dom[i]) {
                dom[i] = candidate;
                changed = true;
            }
        }
    }
    std::vector<std::uint32_t>().swap(predecessors);
    std::vector<std::uint32_t>().swap(begin);
    // The leaves: their predecessors' dominators are final (a leaf is on no path to another
    // node), and `intersect` climbs only through them. The root is never a leaf here (it has
    // edges, or it is the only node reached).
    for (std::uint32_t i = 0; i < reached; ++i) {
        for (NodeId s : graph.successors(order[i])) {
            if (!leaf(s) || s == root) continue;
            std::uint32_t& d = dom[rank[s]];
            d = d == kNoNode ? i : intersect(i, d);
        }
    }
    std::vector<std::uint32_t>().swap(rank);
    idom.assign(n, kNoNode);
    for (std::uint32_t i = 0; i < reached; ++i) idom[order[i]] = order[dom[i]];
    return order;
}

ShortestPaths::ShortestPaths(const HeapGraph& graph, NodeId root)
    : root_(root), parent_(graph.nodes(), kNoNode) {
    std::vector<NodeId> queue{root};
    parent_[root] = root;
    for (std::size_t head = 0; head < queue.size(); ++head) {
        for (NodeId s : graph.successors(queue[head])) {
            if (parent_[s] == kNoNode) {
                parent_[s] = queue[head];
                queue.push_back(s);
            }
        }
    }
}

std::vector<NodeId> ShortestPaths::to(NodeId target) const {
    if (target >= parent_.size() || parent_[target] == kNoNode) return {};
    std::vector<NodeId> path{target};
    while (path.back() != root_) path.push_back(parent_[path.back()]);
    std::reverse(path.begin(), path.end());
    return path;
}

}  // namespace memslim::engine
