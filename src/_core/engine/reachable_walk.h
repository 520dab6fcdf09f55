// reachable_walk.h — visit every node reachable from a root exactly once, without recursion.
//
// The caller drives the walk: `offer()` a node (it is queued only the first time it is seen),
// then `next()` hands back queued nodes until none are left. A node that needs no further visit
// can be only `mark_seen()`. The pending nodes live on an explicit stack, so a chain a million
// nodes long costs a vector of pointers, not a million C stack frames. Nodes are identified by
// their address (objects of 16 bytes or more: see address_bitmap.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/address_bitmap.h"

namespace memslim::engine {

class ReachableWalk {
  public:
    // Records `node` as seen. Returns true if it was not seen before.
    bool mark_seen(std::uintptr_t node) { return seen_.insert(node); }

    // Queues `node` unless it was seen before. Returns true if it was new.
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
        if (pending_.size() < unchanged_below_) unchanged_below_ = pending_.size();
        return true;
    }

    // Calls fn(node) for each pending node queued since the previous call (each node once over
    // all calls while it stays pending). The stack only changes at its top, so the entries below
    // the lowest depth reached since the previous call were all handed out then.
    template <typename Fn>
    void for_each_new_pending(Fn&& fn) {
        for (std::size_t i = unchanged_below_; i < pending_.size(); ++i) fn(pending_[i]);
        unchanged_below_ = pending_.size();
    }

    [[nodiscard]] bool was_seen(std::uintptr_t node) const { return seen_.contains(node); }
    [[nodiscard]] std::size_t nodes_seen() const { return seen_.size(); }
    [[nodiscard]] std::size_t pending() const { return pending_.size(); }
    [[nodiscard]] const AddressBitmap& seen() const { return seen_; }

  private:
    AddressBitmap seen_;
    std::vector<std::uintptr_t> pending_;
    std::size_t unchanged_below_ = 0;
};

}  // namespace memslim::engine
