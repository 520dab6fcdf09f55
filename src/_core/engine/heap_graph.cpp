// heap_graph.cpp — CSR object graph, dominators, retained sizes, shortest paths.
#include "engine/heap_graph.h"

#include <algorithm>
#include <deque>
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

HeapGraph HeapGraph::reversed() const {
    // Counting sort by target, straight from the CSR: no (from, to) pairs in between.
    const std::size_t n = nodes();
    std::vector<std::uint32_t> begin(n + 1, 0);
    for (NodeId target : targets_) ++begin[target + 1];
    for (std::size_t i = 0; i < n; ++i) begin[i + 1] += begin[i];
    std::vector<NodeId> sources(targets_.size());
    for (NodeId node = 0; node < n; ++node) {
        for (NodeId target : successors(node)) sources[begin[target]++] = node;
    }
    // Each begin[t] advanced to begin[t + 1]: shift back instead of keeping a cursor array.
    for (std::size_t i = n; i > 0; --i) begin[i] = begin[i - 1];
    begin[0] = 0;
    return HeapGraph(std::move(begin), std::move(sources));
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

std::vector<NodeId> immediate_dominators(const HeapGraph& graph, NodeId root,
                                         std::vector<NodeId>& idom, std::size_t& passes) {
    const std::size_t n = graph.nodes();
    idom.assign(n, kNoNode);
    passes = 0;
    if (n == 0) return {};

    std::vector<NodeId> order = reverse_post_order(graph, root);
    std::vector<std::uint32_t> rank(n, kNoNode);  // position in reverse post-order
    for (std::uint32_t i = 0; i < order.size(); ++i) rank[order[i]] = i;
    const HeapGraph predecessors = graph.reversed();

    auto intersect = [&](NodeId a, NodeId b) {
        while (a != b) {
            while (rank[a] > rank[b]) a = idom[a];
            while (rank[b] > rank[a]) b = idom[b];
        }
        return a;
    };

    idom[root] = root;
    bool changed = true;
    while (changed) {
        changed = false;
        ++passes;
        for (std::size_t i = 1; i < order.size(); ++i) {
            const NodeId node = order[i];
            NodeId candidate = kNoNode;
            for (NodeId p : predecessors.successors(node)) {
                if (rank[p] == kNoNode || idom[p] == kNoNode) continue;  // unreachable/unset
                candidate = candidate == kNoNode ? p : intersect(p, candidate);
            }
            if (candidate != idom[node]) {
                idom[node] = candidate;
                changed = true;
            }
        }
    }
    return order;
}

std::vector<NodeId> shortest_path(const HeapGraph& graph, NodeId root, NodeId target) {
    std::vector<NodeId> parent(graph.nodes(), kNoNode);
    std::deque<NodeId> queue{root};
    parent[root] = root;
    while (!queue.empty() && parent[target] == kNoNode) {
        NodeId node = queue.front();
        queue.pop_front();
        for (NodeId s : graph.successors(node)) {
            if (parent[s] == kNoNode) {
                parent[s] = node;
                queue.push_back(s);
            }
        }
    }
    if (parent[target] == kNoNode) return {};
    std::vector<NodeId> path{target};
    while (path.back() != root) path.push_back(parent[path.back()]);
    std::reverse(path.begin(), path.end());
    return path;
}

}  // namespace memslim::engine
