// Unit tests for engine/frame_tree: stacks interned as a tree, checked against brute force.
#include "engine/frame_tree.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

using memslim::engine::Frame;
using memslim::engine::FrameTree;
using memslim::engine::NodeId;
using memslim::engine::StackCache;

namespace {

// The stack of `node`, innermost first, by walking its callers.
std::vector<Frame> stack_of(const FrameTree& tree, NodeId node) {
    std::vector<Frame> frames;
    for (; node != FrameTree::kRoot; node = tree.parent(node)) frames.push_back(tree.frame(node));
    return frames;
}

NodeId intern(FrameTree& tree, const std::vector<Frame>& stack) {
    return tree.intern(stack, FrameTree::kRoot, [](NodeId) {});
}

}  // namespace

TEST(FrameTree, SameStackSameNodeOtherStackOtherNode) {
    FrameTree tree;
    std::vector<Frame> a = {{0x1000, 4}, {0x2000, 10}};
    std::vector<Frame> b = {{0x1000, 6}, {0x2000, 10}};  // same code, other instruction
    std::vector<Frame> c = {{0x2000, 10}};               // a's caller alone
    std::vector<Frame> d = {{0x1000, 4}, {0x3000, 10}};  // same frame, other caller
    const NodeId na = intern(tree, a);
    EXPECT_EQ(intern(tree, a), na);
    const NodeId nb = intern(tree, b);
    const NodeId nc = intern(tree, c);
    const NodeId nd = intern(tree, d);
    EXPECT_NE(na, nb);
    EXPECT_NE(na, nd);
    EXPECT_EQ(tree.parent(na), nc);  // the caller's stack is a node of its own
    EXPECT_EQ(tree.parent(nb), nc);
    EXPECT_EQ(intern(tree, {}), FrameTree::kRoot);
    EXPECT_EQ(stack_of(tree, nd), d);
    // Root + (0x2000,10) + two children + (0x3000,10) + its child.
    EXPECT_EQ(tree.size(), 6u);
}

TEST(FrameTree, KnownPrefixReadsOnlyAndStopsAtTheFirstUnknownFrame) {
    FrameTree tree;
    const std::vector<Frame> known = {{0x1000, 4}, {0x2000, 10}, {0x3000, 2}};
    const NodeId node = intern(tree, known);
    const std::size_t size = tree.size();
    EXPECT_EQ(tree.known_prefix(known), node);
    // Innermost frame unknown: its caller's node, the outer two frames of `known`.
    const std::vector<Frame> inner_unknown = {{0x9000, 1}, {0x2000, 10}, {0x3000, 2}};
    EXPECT_EQ(tree.known_prefix(inner_unknown), tree.parent(node));
    // A frame unknown in the middle: nothing inside it counts, even if it is known elsewhere.
    const std::vector<Frame> middle_unknown = {{0x1000, 4}, {0x9000, 1}, {0x3000, 2}};
    EXPECT_EQ(tree.known_prefix(middle_unknown), tree.parent(tree.parent(node)));
    const std::vector<Frame> callee_only = {{0x1000, 4}};  // known only as a callee
    EXPECT_EQ(tree.known_prefix(callee_only), FrameTree::kRoot);
    EXPECT_EQ(tree.find(FrameTree::kRoot, {0x3000, 2}), tree.parent(tree.parent(node)));
    EXPECT_EQ(tree.find(FrameTree::kRoot, {0x3000, 3}), FrameTree::kNotFound);
    EXPECT_EQ(tree.size(), size);  // nothing added
}

TEST(FrameTree, ParentsComeBeforeChildren) {
    FrameTree tree;
    std::mt19937 rng(7);  // 32-bit results: frames take them without narrowing
    for (int i = 0; i < 2000; ++i) {
        std::vector<Frame> stack(1 + rng() % 30);
        for (auto& f : stack)
            f = {0x1000u + 16 * (rng() % 5), static_cast<std::uint32_t>(rng() % 4)};
        intern(tree, stack);
    }
    for (NodeId node = 1; node < tree.size(); ++node) EXPECT_LT(tree.parent(node), node);
}

TEST(FrameTree, MemoryGrowsWithDistinctFramesNotStacksTimesDepth) {
    // 10,000 stacks 100 frames deep that differ only in their innermost frame: 10,099 nodes.
    FrameTree tree;
    std::vector<Frame> stack(100);
    for (std::size_t d = 0; d < stack.size(); ++d) stack[d] = {0x5000 + 16 * d, 1};
    for (std::uint32_t i = 0; i < 10000; ++i) {
        stack[0] = {0x9000, i};
        intern(tree, stack);
    }
    EXPECT_EQ(tree.size(), 1 + 99 + 10000u);
    EXPECT_LT(tree.memory_bytes(), 40u * tree.size() + 64 * 1024);
}

// A thread's cache must give the node that interning the whole stack gives, whatever the
// previous stack was: deeper, shallower, sharing some outer frames, none or all.
TEST(StackCache, AgreesWithTheTreeOnRandomStacks) {
    FrameTree tree;
    StackCache cache;
    std::mt19937 rng(11);
    std::map<std::vector<std::pair<std::uintptr_t, std::uint32_t>>, NodeId> brute;
    std::vector<Frame> stack;
    std::size_t fresh = 0;
    for (int i = 0; i < 20000; ++i) {
        // Mutate like a running program: return from some frames, call into others.
        const std::size_t pop = rng() % 4;
        for (std::size_t k = 0; k < pop && !stack.empty(); ++k) stack.erase(stack.begin());
        if (!stack.empty() && rng() % 2) stack[0].instruction = rng() % 6;  // next line
        const std::size_t push = rng() % 4;
        for (std::size_t k = 0; k < push && stack.size() < StackCache::kCapacity; ++k) {
            stack.insert(stack.begin(),
                         Frame{0x1000u + 16 * (rng() % 6), static_cast<std::uint32_t>(rng() % 6)});
        }
        NodeId node = 0;
        if (!cache.lookup(stack, &node)) {
            node = cache.intern(stack, tree, [&fresh](NodeId) { ++fresh; });
        }
        EXPECT_EQ(node, intern(tree, stack));
        ASSERT_EQ(stack_of(tree, node), stack);
        std::vector<std::pair<std::uintptr_t, std::uint32_t>> key;
        for (const Frame& f : stack) key.emplace_back(f.code, f.instruction);
        auto [it, inserted] = brute.try_emplace(key, node);
        EXPECT_EQ(it->second, node);
    }
    EXPECT_EQ(fresh, tree.size() - 1);  // every node was reported once, when it was added
}

TEST(StackCache, ExactRepeatNeedsNoTree) {
    FrameTree tree;
    StackCache cache;
    std::vector<Frame> stack = {{0x1000, 1}, {0x2000, 2}};
    NodeId node = 0;
    EXPECT_FALSE(cache.lookup(stack, &node));
    const NodeId interned = cache.intern(stack, tree, [](NodeId) {});
    ASSERT_TRUE(cache.lookup(stack, &node));
    EXPECT_EQ(node, interned);
    // The caller's number for the cached stack holds while that stack repeats, never after.
    EXPECT_EQ(cache.slot(), StackCache::kNoSlot);
    cache.set_slot(5);
    ASSERT_TRUE(cache.lookup(stack, &node));
    EXPECT_EQ(cache.slot(), 5u);
    const std::vector<Frame> other = {{0x3000, 1}, {0x2000, 2}};
    cache.intern(other, tree, [](NodeId) {});
    EXPECT_EQ(cache.slot(), StackCache::kNoSlot);
    cache.set_slot(6);
    cache.clear();
    EXPECT_FALSE(cache.lookup(stack, &node));
    EXPECT_EQ(cache.slot(), StackCache::kNoSlot);
}

// move_innermost, as the tracker uses it: when only the innermost frame's instruction changed,
// it answers from the thread's recent children or not at all, and whatever it answers (the
// node, the frames, the caller's slot) is what interning the stack gives. Truth: the tree
// itself, and a map of the slots handed out by node.
TEST(StackCache, AMovedInnermostFrameIsTheStackThatInterningGives) {
    FrameTree tree;
    StackCache cache;
    std::mt19937 rng(7);
    std::map<NodeId, std::uint32_t> slots;
    std::vector<Frame> stack = {{0x1000, 0}, {0x2000, 1}, {0x3000, 2}};
    std::size_t moved = 0;
    std::size_t answered = 0;
    for (int i = 0; i < 20000; ++i) {
        bool only_innermost = false;
        if (rng() % 8 == 0) {  // a call or a return: the callers change
            if (stack.size() > 2 && rng() % 2) {
                stack.erase(stack.begin());
            } else if (stack.size() < 12) {
                stack.insert(stack.begin(), Frame{0x1000u + 16 * (rng() % 4), 0});
            }
        } else {  // the next allocation of the same frame, at one of a loop's instructions
            stack[0].instruction = rng() % 6;
            only_innermost = true;
        }
        const NodeId truth = intern(tree, stack);
        NodeId node = 0;
        if (!cache.lookup(stack, &node)) {
            if (only_innermost && cache.move_innermost(stack[0].instruction)) {
                ++answered;
                node = cache.node();
                ASSERT_TRUE(std::equal(stack.begin(), stack.end(), cache.frames().begin(),
                                       cache.frames().end()));
            } else {
                node = cache.intern(stack, tree, [](NodeId) {});
            }
            moved += only_innermost ? 1 : 0;
        }
        ASSERT_EQ(node, truth);
        ASSERT_EQ(cache.node(), truth);
        ASSERT_EQ(stack_of(tree, node), stack);  // the node's own frames, walked by brute force
        const auto it = slots.try_emplace(node, static_cast<std::uint32_t>(slots.size())).first;
        if (cache.slot() == StackCache::kNoSlot) {
            cache.set_slot(it->second);
        } else {
            ASSERT_EQ(cache.slot(), it->second);
        }
    }
    EXPECT_GT(answered, moved / 2);  // the loop's few instructions: mostly answered
    // An instruction never seen under these callers is not answered, and changes nothing.
    const std::vector<Frame> before(cache.frames().begin(), cache.frames().end());
    EXPECT_FALSE(cache.move_innermost(1000));
    EXPECT_TRUE(
        std::equal(before.begin(), before.end(), cache.frames().begin(), cache.frames().end()));
    // Nor after clear(): what it knew was another tree's.
    cache.clear();
    EXPECT_FALSE(cache.move_innermost(stack[0].instruction));
}

// After clear() the empty stack is the only one cached: it is the root in the new tree, and no
// node of the old tree answers for it (a cleared cache that kept its old depth and nodes once
// answered an empty stack with its last stack's node).
TEST(StackCache, AfterClearTheEmptyStackIsTheRoot) {
    FrameTree old_tree;
    StackCache cache;
    const std::vector<Frame> stack = {{0x1000, 1}, {0x2000, 2}};
    ASSERT_NE(cache.intern(stack, old_tree, [](NodeId) {}), FrameTree::kRoot);
    cache.clear();
    EXPECT_TRUE(cache.frames().empty());
    NodeId node = 99;
    ASSERT_TRUE(cache.lookup(std::vector<Frame>{}, &node));
    EXPECT_EQ(node, FrameTree::kRoot);
    EXPECT_EQ(cache.node(), FrameTree::kRoot);
    EXPECT_FALSE(cache.lookup(stack, &node));
}

// A thread keeps its cache from one recording to the next: after clear(), nothing it learnt
// from the old tree (its recently used children included) may answer for the new one.
TEST(StackCache, ClearForgetsTheOldTree) {
    FrameTree old_tree;
    StackCache cache;
    const std::vector<Frame> stack = {{0x1000, 1}, {0x2000, 2}};
    const std::vector<Frame> other = {{0x3000, 3}, {0x2000, 2}};
    cache.intern(other, old_tree, [](NodeId) {});
    cache.intern(stack, old_tree, [](NodeId) {});
    cache.clear();
    FrameTree new_tree;  // the same frames get other node ids here
    const std::vector<Frame> unrelated = {{0x9000, 9}, {0x9000, 8}, {0x9000, 7}, {0x9000, 6}};
    intern(new_tree, unrelated);
    const NodeId node = cache.intern(stack, new_tree, [](NodeId) {});
    EXPECT_EQ(node, intern(new_tree, stack));
    EXPECT_EQ(stack_of(new_tree, node), stack);
}

namespace {

// Room reserved up front: the same nodes, found the same way. Truth: a tree built without
// reserving.
TEST(FrameTree, ReservedRoomChangesNoNode) {
    FrameTree plain;
    FrameTree reserved;
    reserved.reserve(50000);
    for (std::uint32_t i = 0; i < 20000; ++i) {
        // Two frames under 1,000 outer frames: 1,000 + 20,000 nodes.
        const std::vector<Frame> stack = {{0x9000 + 16 * (i % 7), i},
                                          {0x5000 + 16 * (i % 1000), 1}};
        EXPECT_EQ(intern(reserved, stack), intern(plain, stack));
    }
    EXPECT_EQ(reserved.size(), plain.size());
    EXPECT_EQ(reserved.size(), 1 + 1000 + 20000u);
    for (NodeId node = 1; node < plain.size(); ++node) {
        EXPECT_EQ(reserved.find(plain.parent(node), plain.frame(node)), node);
    }
    reserved.reserve(10);  // less than it holds: nothing changes
    EXPECT_EQ(reserved.find(plain.parent(7), plain.frame(7)), 7u);
}

}  // namespace

TEST(StackCache, ALinkStandsForTheNodeItNames) {
    // A worker's stack: two frames, then a link naming the work item (its address); the link
    // is the given node (the submitting stack's), never a node of its own.
    FrameTree tree;
    StackCache cache;
    const std::vector<Frame> submitter = {{0x5000, 3}, {0x6000, 4}};
    const NodeId submitted = intern(tree, submitter);
    const std::size_t nodes = tree.size();
    const Frame link{0xABC0, Frame::kLinkInstruction};
    std::vector<Frame> worker = {{0x1000, 1}, {0x2000, 2}, link};
    std::size_t fresh = 0;
    const NodeId node = cache.intern(worker, tree, [&fresh](NodeId) { ++fresh; }, submitted);
    EXPECT_EQ(fresh, 2u);
    EXPECT_EQ(tree.size(), nodes + 2);
    EXPECT_EQ(stack_of(tree, node),
              (std::vector<Frame>{{0x1000, 1}, {0x2000, 2}, {0x5000, 3}, {0x6000, 4}}));
    NodeId again = 0;
    ASSERT_TRUE(cache.lookup(worker, &again));
    EXPECT_EQ(again, node);
    // The next line of the same work shares the link's node.
    worker[0].instruction = 9;
    const NodeId next = cache.intern(worker, tree, [](NodeId) {}, FrameTree::kRoot);
    EXPECT_EQ(tree.parent(next), tree.parent(node));
    // Another work item (another address) of the same worker: its own submitting stack.
    worker[2] = Frame{0xDEF0, Frame::kLinkInstruction};
    const NodeId other = cache.intern(worker, tree, [](NodeId) {}, FrameTree::kRoot);
    EXPECT_EQ(stack_of(tree, other), (std::vector<Frame>{{0x1000, 9}, {0x2000, 2}}));
    // A prefix known from a link's node (a thread without the GIL adds no nodes).
    EXPECT_EQ(tree.known_prefix(std::span<const Frame>(worker).first(2), submitted), next);
}
