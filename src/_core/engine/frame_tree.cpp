// frame_tree.cpp — call stacks as a tree (see frame_tree.h).
#include "engine/frame_tree.h"

namespace memslim::engine {

FrameTree::FrameTree() {
    nodes_.push_back({0, 0, kRoot});  // the empty stack; its own parent, never looked up
    index_.assign(1024, kEmptySlot);
}

std::uint64_t FrameTree::hash(NodeId parent, const Frame& frame) {
    std::uint64_t h = frame.code ^ (static_cast<std::uint64_t>(frame.instruction) << 40) ^
                      (static_cast<std::uint64_t>(parent) * 0x9E3779B97F4A7C15ULL);
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    return h;
}

NodeId FrameTree::child(NodeId parent, const Frame& frame, bool* is_new) {
    const std::size_t mask = index_.size() - 1;
    const std::uint64_t h = hash(parent, frame);
    std::size_t i = h & mask;
    for (;; i = (i + 1) & mask) {
        const std::uint64_t slot = index_[i];
        if (slot == kEmptySlot) break;
        if (!tag_matches(slot, h)) continue;
        const auto node = static_cast<NodeId>(slot);
        const Node& n = nodes_[node];
        if (n.parent == parent && n.code == frame.code && n.instruction == frame.instruction) {
            *is_new = false;
            return node;
        }
    }
    *is_new = true;
    const auto node = static_cast<NodeId>(nodes_.size());
    nodes_.push_back({frame.code, frame.instruction, parent});
    index_[i] = entry(h, node);
    if (nodes_.size() * 4 > index_.size() * 3) grow_index();  // load at most 3/4
    return node;
}

NodeId FrameTree::find(NodeId parent, const Frame& frame) const {
    const std::size_t mask = index_.size() - 1;
    const std::uint64_t h = hash(parent, frame);
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
        const std::uint64_t slot = index_[i];
        if (slot == kEmptySlot) return kNotFound;
        if (!tag_matches(slot, h)) continue;
        const auto node = static_cast<NodeId>(slot);
        const Node& n = nodes_[node];
        if (n.parent == parent && n.code == frame.code && n.instruction == frame.instruction) {
            return node;
        }
    }
}

void FrameTree::reserve(std::size_t nodes) {
    std::size_t slots = index_.size();
    while (nodes * 4 > slots * 3) slots *= 2;
    if (slots != index_.size()) rehash(slots);
}

void FrameTree::rehash(std::size_t slots) {
    index_.assign(slots, kEmptySlot);
    const std::size_t mask = index_.size() - 1;
    for (NodeId node = 1; node < nodes_.size(); ++node) {
        const Node& n = nodes_[node];
        const std::uint64_t h = hash(n.parent, {n.code, n.instruction});
        std::size_t i = h & mask;
        while (index_[i] != kEmptySlot) i = (i + 1) & mask;
        index_[i] = entry(h, node);
    }
}

std::size_t FrameTree::memory_bytes() const {
    return nodes_.memory_bytes() + index_.capacity() * sizeof(std::uint64_t);
}

}  // namespace memslim::engine
