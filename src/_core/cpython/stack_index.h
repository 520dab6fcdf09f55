// stack_index.h — what the report needs of the tracker's frame tree, computed once per distinct
// frame or code object: each node's printed frame (file, function, line), and its user stack.
//
// A user stack is a stack cut at memslim's own frames: a target run by `memslim run` sits on
// memslim's runner, and what memslim itself allocates has no user frame at all. User stacks
// are interned by printed frames, so two stacks that print the same are one row of the report.
// Everything is O(nodes); the report then works in O(sites).
#pragma once

#include <Python.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/frame_tree.h"

namespace memslim::cpython {

struct StackIndex {
    static constexpr std::uint32_t kNone = 0xFFFFFFFFu;

    struct PrintedFrame {
        PyObject* code;  // one code object that prints so (borrowed; the tracker keeps it)
        int line;
    };
    std::vector<PrintedFrame> frames;       // distinct (file, function, line)
    std::vector<std::uint32_t> node_frame;  // per node: index into frames (kNone for the root)
    std::vector<engine::NodeId> node_parent;
    std::vector<std::uint32_t> node_user;  // per node: its user stack (0: none)
    // User stacks, a tree of their own: 0 is the empty one; parents come first.
    std::vector<std::uint32_t> user_parent;
    std::vector<std::uint32_t> user_frame;  // index into frames
};

// Builds the index of the tracker's frame tree. A frame whose code object's file starts with
// `own_prefix` is memslim's own. Needs the GIL.
StackIndex build_stack_index(std::string_view own_prefix);

}  // namespace memslim::cpython
