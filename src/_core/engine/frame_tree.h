// frame_tree.h — call stacks as a tree: each distinct frame (code, instruction, caller) is
// stored once, and a stack is the node of its innermost frame.
//
// Programs that import real libraries have hundreds of thousands of distinct deep stacks that
// share nearly all of their outer frames. Stored whole, they cost sites × depth (743 MB for
// `import torch`); as a tree they cost one 16-byte node per distinct (code, instruction, caller).
//
// A frame is (code, instruction): an opaque code identity (the code object's address, kept alive
// by the caller) and the instruction offset within it. Lines are resolved at report time, never
// on the allocation path. Node 0 is the empty stack; a node's parent always has a smaller id,
// so one pass in id order visits callers before callees.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <span>
#include <vector>

#include "engine/chunked_vector.h"

namespace memslim::engine {

// No default member initialisers on purpose: the allocation hook keeps a buffer of 128
// frames on its stack, and zeroing 2 KiB per allocation cost more than the rest of the hook.
struct Frame {
    std::uintptr_t code;
    std::uint32_t instruction;
    bool operator==(const Frame&) const = default;
    // A link: not a frame but the outermost entry of a stack read in a thread pool's worker,
    // standing for the stack that submitted the work (`code` holds an address naming it). It
    // never becomes a node: the caller resolves it to a node of its own (see StackCache).
    static constexpr std::uint32_t kLinkInstruction = 0xFFFFFFFFu;
    [[nodiscard]] bool is_link() const { return instruction == kLinkInstruction; }
};

using NodeId = std::uint32_t;
using SiteId = NodeId;  // a site (an allocation's stack) is the node of its innermost frame

class FrameTree {
  public:
    static constexpr NodeId kRoot = 0;  // the empty stack

    FrameTree();

    // The node of `frame` called from `parent`. Sets *is_new when it was not in the tree.
    NodeId child(NodeId parent, const Frame& frame, bool* is_new);

    // The node of `frame` called from `parent`, or kNotFound; reads only.
    static constexpr NodeId kNotFound = 0xFFFFFFFFu;
    [[nodiscard]] NodeId find(NodeId parent, const Frame& frame) const;

    // The node of the longest outer part of a stack (innermost frame first) that is in the
    // tree already; adds nothing (kRoot when not even the outermost frame is there).
    [[nodiscard]] NodeId known_prefix(std::span<const Frame> innermost_first,
                                      NodeId outer = kRoot) const {
        NodeId node = outer;
        for (std::size_t i = innermost_first.size(); i-- > 0;) {
            const NodeId next = find(node, innermost_first[i]);
            if (next == kNotFound) break;
            node = next;
        }
        return node;
    }

    // The node of a whole stack, innermost frame first, whose frames beyond the span are the
    // stack of `outer`. `on_new(node)` is called for each node added.
    template <class OnNew>
    NodeId intern(std::span<const Frame> innermost_first, NodeId outer, OnNew on_new) {
        NodeId node = outer;
        for (std::size_t i = innermost_first.size(); i-- > 0;) {
            bool is_new = false;
            node = child(node, innermost_first[i], &is_new);
            if (is_new) on_new(node);
        }
        return node;
    }

    // Makes room in the index for `nodes` nodes in all, so that adding them rehashes nothing
    // (the report's user-stack tree, built at once with as many nodes as the tracker's tree at
    // most, spent a twelfth of its time rehashing).
    void reserve(std::size_t nodes);

    [[nodiscard]] Frame frame(NodeId node) const {
        return {nodes_[node].code, nodes_[node].instruction};
    }
    [[nodiscard]] NodeId parent(NodeId node) const { return nodes_[node].parent; }
    [[nodiscard]] std::size_t size() const { return nodes_.size(); }
    [[nodiscard]] std::size_t memory_bytes() const;

  private:
    struct Node {
        std::uintptr_t code;
        std::uint32_t instruction;
        NodeId parent;
    };
    static std::uint64_t hash(NodeId parent, const Frame& frame);
    void grow_index() { rehash(index_.size() * 2); }
    void rehash(std::size_t slots);

    // An index entry: the high half of the node's hash (a tag), then the node. Probing compares
    // tags first and reads a node only when they match: without them, every slot passed on the
    // way read its node from nodes_, a cache miss each, and adding a node passed about eight at
    // the index's highest load (an import-heavy program's report spent a third of its first
    // stack index there).
    static std::uint64_t entry(std::uint64_t hash, NodeId node) {
        return (hash & 0xFFFFFFFF00000000ULL) | node;
    }
    static bool tag_matches(std::uint64_t entry, std::uint64_t hash) {
        return ((entry ^ hash) >> 32) == 0;
    }

    ChunkedVector<Node> nodes_;
    std::vector<std::uint64_t> index_;  // open addressing (load <= 3/4), kEmptySlot when free
    static constexpr std::uint64_t kEmptySlot = ~std::uint64_t{0};
};

// The last stack one thread interned, and the node of each of its suffixes. Consecutive
// allocations of a thread nearly always share their outer frames (often all of them), so only
// the frames that changed are looked up in the tree: usually none or one, whatever the depth.
class StackCache {
  public:
    static constexpr std::size_t kCapacity = 128;

    // The node of `stack` (innermost first, at most kCapacity frames) if it is the cached stack
    // exactly; needs no lock on the tree.
    [[nodiscard]] bool lookup(std::span<const Frame> stack, NodeId* node) const {
        if (stack.size() != depth_) return false;
        for (std::size_t i = 0; i < depth_; ++i) {
            if (!(stack[i] == frames_[i])) return false;
        }
        *node = this->node();
        return true;
    }

    // The cached stack, innermost first, for a reader of frames to compare with as it reads
    // them: the same answer as lookup() without a second pass over both stacks (a tenth of
    // exact mode's hook time on stacks 30-75 frames deep). Empty when nothing is cached: the
    // empty stack's node is the root in every tree.
    [[nodiscard]] std::span<const Frame> frames() const {
        return std::span<const Frame>(frames_, depth_);
    }
    // The cached stack's node (when frames() matched a stack).
    [[nodiscard]] NodeId node() const { return depth_ == 0 ? FrameTree::kRoot : nodes_[0]; }

    // Interns `stack` in `tree` (the caller holds the tree's lock), reusing the outer frames it
    // shares with the cached stack, and caches it. A link as the stack's outermost entry
    // (Frame::is_link) stands for the node `link`.
    template <class OnNew>
    NodeId intern(std::span<const Frame> stack, FrameTree& tree, OnNew on_new,
                  NodeId link = FrameTree::kRoot) {
        const std::size_t depth = stack.size();
        std::size_t shared = 0;  // outermost frames in common with the cached stack
        while (shared < depth && shared < depth_ &&
               stack[depth - 1 - shared] == frames_[depth_ - 1 - shared]) {
            ++shared;
        }
        // nodes_[i] is the node of frames_[i..depth_): the shared outer part keeps its node.
        const NodeId outer_node = shared == 0 ? FrameTree::kRoot : nodes_[depth_ - shared];
        std::size_t i = depth - shared;
        // The shared part moves to the end of the arrays (the regions may overlap).
        if (depth != depth_ && shared > 0) {
            std::memmove(&nodes_[depth - shared], &nodes_[depth_ - shared],
                         shared * sizeof(NodeId));
            std::memcpy(&frames_[depth - shared], &stack[depth - shared], shared * sizeof(Frame));
        }
        NodeId node = outer_node;
        innermost_ = kNone;  // child() sets it for the innermost frame
        while (i-- > 0) {
            node = i == depth - 1 && stack[i].is_link() ? link : child(tree, node, stack[i], on_new);
            nodes_[i] = node;
            frames_[i] = stack[i];
        }
        depth_ = depth;
        slot_ = innermost_ != kNone ? recent_[innermost_].slot : kNoSlot;
        return depth == 0 ? FrameTree::kRoot : nodes_[0];
    }

    // A number the caller keeps for the cached stack (the tracker's counter slot of its site),
    // so that an exact repeat needs no lookup of it either. kNoSlot until set; a new stack
    // resets it. It is kept with the innermost frame's entry among the recent children too,
    // for move_innermost.
    static constexpr std::uint32_t kNoSlot = 0xFFFFFFFFu;
    [[nodiscard]] std::uint32_t slot() const { return slot_; }
    void set_slot(std::uint32_t slot) {
        slot_ = slot;
        if (innermost_ != kNone && depth_ > 0 && recent_[innermost_].node == nodes_[0]) {
            recent_[innermost_].slot = slot;
        }
    }

    // The cached stack with its innermost frame at `instruction` (its callers unchanged), when
    // the thread allocated there before under the same caller: true, and the cached stack is
    // that one, its node and slot known, without the tree (no lock). A loop's line allocates at
    // several instructions in turn (a dict, its strings, a list: threads8's comprehension six
    // times a row), and each move was interned under the tracker's lock and its slot looked up
    // again. False (nothing changed) when that spot is not among the recent children.
    bool move_innermost(std::uint32_t instruction) {
        if (depth_ < 2 || frames_[0].is_link()) return false;
        const Frame moved{frames_[0].code, instruction};
        const std::size_t index = recent_index(nodes_[1], moved);
        const Recent& recent = recent_[index];
        if (recent.code != moved.code || recent.parent != nodes_[1] ||
            recent.instruction != instruction) {
            return false;
        }
        frames_[0] = moved;
        nodes_[0] = recent.node;
        slot_ = recent.slot;
        innermost_ = index;
        return true;
    }

    // Forgets the cached stack (its nodes are another tree's): nothing is cached, as at first.
    void clear() {
        depth_ = 0;
        slot_ = kNoSlot;
        innermost_ = kNone;
        std::fill(std::begin(recent_), std::end(recent_), Recent{});
    }

  private:
    // The tree's node of `frame` under `parent`, from the thread's recently used children
    // first. The innermost frame of a thread's allocations moves among a few instructions (the
    // lines of a loop), and each move was a lookup in the shared tree's index, a cache miss
    // into a table as large as the tree (a sixth of the hook's time with eight threads).
    template <class OnNew>
    NodeId child(FrameTree& tree, NodeId parent, const Frame& frame, OnNew& on_new) {
        const std::size_t index = recent_index(parent, frame);
        Recent& recent = recent_[index];
        innermost_ = index;  // the last child looked up is the innermost frame's (intern)
        if (recent.code == frame.code && recent.parent == parent &&
            recent.instruction == frame.instruction) {
            return recent.node;
        }
        bool is_new = false;
        const NodeId node = tree.child(parent, frame, &is_new);
        if (is_new) on_new(node);
        recent = {frame.code, frame.instruction, parent, node, kNoSlot};
        return node;
    }

    static std::size_t recent_index(NodeId parent, const Frame& frame) {
        const std::uint64_t key = (frame.code ^ (std::uint64_t{parent} << 32) ^ frame.instruction) *
                                  0x9E3779B97F4A7C15ULL;
        return static_cast<std::size_t>(key >> (64 - kRecentBits));
    }

    struct Recent {
        std::uintptr_t code = 0;  // 0: empty (no code object lives at address 0)
        std::uint32_t instruction = 0;
        NodeId parent = 0;
        NodeId node = 0;
        std::uint32_t slot = kNoSlot;  // the caller's slot of `node` (set_slot), if known
    };
    static constexpr unsigned kRecentBits = 8;

    std::uint32_t slot_ = kNoSlot;
    // The index in recent_ of nodes_[0]'s entry, when intern or move_innermost took it from
    // there (kNone otherwise).
    static constexpr std::size_t kNone = ~std::size_t{0};
    std::size_t innermost_ = kNone;
    std::size_t depth_ = 0;
    Frame frames_[kCapacity];
    NodeId nodes_[kCapacity];
    Recent recent_[std::size_t{1} << kRecentBits] = {};
};

}  // namespace memslim::engine
