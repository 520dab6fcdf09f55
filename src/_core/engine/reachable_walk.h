// reachable_walk.h — visit every node reachable from a root exactly once, without recursion.
//
// The caller drives the walk: `offer()` a node (it is queued only the first time it is seen),
// then `next()` hands back queued nodes until none are left. The pending nodes live on an
// explicit stack, so a chain a million nodes long costs a vector of pointers, not a million
// C stack frames. Nodes are identified by their (non-zero) address.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/address_set.h"

namespace memslim::engine {

class ReachableWalk {
public:
    explicit ReachableWalk(std::size_t expected_nodes = 0) : seen_(expected_nodes) {}

    // Queues `node` unless it was offered before. Returns true if it was new.
    bool offer(std::uintptr_t node) {
        if (!seen_.insert(node)) return false;
        pending_.push_back(node);
        return true;
    }

    // Takes the next pending node; returns false once the walk is complete.
    bool next(std::uintptr_t& node) {
        if (pending_.empty()) return false;
        node = pending_.back();
        pending_.pop_back();
        return true;
    }

    [[nodiscard]] bool was_offered(std::uintptr_t node) const { return seen_.contains(node); }
    [[nodiscard]] std::size_t nodes_seen() const { return seen_.size(); }
    [[nodiscard]] std::size_t pending() const { return pending_.size(); }
    [[nodiscard]] const AddressSet& seen() const { return seen_; }

private:
    AddressSet seen_;
    std::vector<std::uintptr_t> pending_;
};

}  // namespace memslim::engine
