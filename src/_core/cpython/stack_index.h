// stack_index.h — what the report needs of the tracker's frame tree, computed once per distinct
// frame or code object: each node's printed frame (file, function, line), and its user stack.
//
// A user stack is a stack cut at memslim's own frames: a target run by `memslim run` sits on
// memslim's runner, and what memslim itself allocates has no user frame at all. User stacks
// are interned by printed frames, so two stacks that print the same are one row of the report.
// Everything is O(nodes); the report then works in O(sites).
#pragma once

#include <Python.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "cpython/tracker.h"
#include "engine/frame_tree.h"
#include "engine/line_table.h"

namespace memslim::cpython {

struct StackIndex {
    static constexpr std::uint32_t kNone = 0xFFFFFFFFu;

    struct PrintedFrame {
        PyObject* code;  // one code object that prints so (borrowed; the tracker keeps it)
        int line;
    };
    std::vector<PrintedFrame> frames;           // distinct (file, function, line)
    std::vector<std::uint32_t> frame_function;  // per frame: its function's id
    // Per frame: 1 if its file is a library's (the standard library, site-packages,
    // `<frozen ...>`, code made by exec such as dataclasses' `<string>`), 0 if the program's.
    std::vector<std::uint8_t> frame_library;
    std::vector<std::string> functions;    // per function id: "file\0qualname"
    std::vector<std::uint32_t> node_user;  // per node: its user stack (0: none)
    // User stacks, a tree of their own whose frames are (printed frame, 0): 0 is the empty one;
    // parents come first.
    engine::FrameTree users;
    [[nodiscard]] std::uint32_t user_parent(std::uint32_t user) const { return users.parent(user); }
    [[nodiscard]] std::uint32_t user_frame(std::uint32_t user) const {
        return static_cast<std::uint32_t>(users.frame(user).code);
    }
};

// The index of the tracker's frame tree. A frame whose code object's file starts with
// `own_prefix` is memslim's own. Kept between calls for the same recording and prefix, and
// extended with the nodes added since: nodes are only ever appended, so a checkpoint of an
// import-heavy program (half a million nodes) resolves only what is new. Valid until the next
// call or release_stack_index(). Needs the GIL.
const StackIndex& build_stack_index(std::string_view own_prefix);

// Frees the kept index (tracking restarts, or its code objects are released).
void release_stack_index();

// A code object's line table as (start, end, line) ranges of bytecode bytes, consecutive
// ranges of one line merged; line -1 where co_lines() gives None. Needs the GIL.
std::vector<engine::LineRange> line_ranges(PyCodeObject* code);

// line_of(code, instruction) for a code object of the recording's frames (the tracker keeps it
// alive until release_stack_index): its line table is decoded once and kept, where
// PyCode_Addr2Line reads it from its start at every call. A census child resolves the line of
// every site it saw, most of them in module bodies thousands of lines long (after `import
// torch`, 18% of its time in PyCode_Addr2Line). Needs the GIL.
int recorded_line_of(PyCodeObject* code, std::uint32_t instruction);

}  // namespace memslim::cpython

namespace memslim::cpython {

struct TrackResult;

// Bytes and allocations summed over sites; bytes at the peak and live also per domain.
struct Totals {
    std::int64_t bytes_at_peak = 0;
    std::int64_t bytes_live = 0;
    std::int64_t allocated_bytes = 0;
    std::uint64_t allocations = 0;
    std::array<std::int64_t, kDomains> at_peak_by_domain{};
    std::array<std::int64_t, kDomains> live_by_domain{};
    // The sites' own peaks summed (a temporary's sites peak together), and everything live
    // when the largest of them had its own peak.
    std::int64_t high_bytes = 0;
    std::int64_t largest_high = 0;
    std::int64_t total_at_high = 0;
};

// The aggregate the report reads, computed in O(nodes + sites): nothing in it grows with the
// depth of the program's stacks.
struct StackReport {
    // Per printed frame, the sites whose innermost user frame it is (only frames with sites).
    std::vector<std::pair<std::uint32_t, Totals>> lines;
    Totals no_stack;  // allocations made where no Python frame could be read
    // Per printed frame of the program's own code, the sites whose nearest program frame
    // (innermost non-library frame of their user stack) it is; a stack of library frames only
    // counts at its innermost frame. And what library frames those sites were in, innermost:
    // (program frame, library frame, bytes at the peak), for the lines folded under each.
    std::vector<std::pair<std::uint32_t, Totals>> program_lines;
    std::vector<std::tuple<std::uint32_t, std::uint32_t, std::int64_t>> folded;
    // The user stacks holding the most bytes at the peak, largest first.
    std::vector<std::pair<std::uint32_t, std::int64_t>> top_stacks;
    // One function's lines: per printed frame of that function, the sites whose user stack
    // passes through it (its innermost frame of that function). `function_frame` is a frame
    // of the function (kNone when it has none).
    std::uint32_t function_frame = StackIndex::kNone;
    std::vector<std::pair<std::uint32_t, Totals>> function_lines;
    std::uint64_t gc_freed_bytes = 0;
    std::size_t sites = 0;  // sites that allocated
    Totals all;             // every site: the peak and the end, per domain
};

// Aggregates the tracker's sites over `index`. `function` is "file\0qualname" of the function whose
// lines to table, or empty for the function whose lines hold the most bytes at the peak. With
// `top_lines`, `lines` and `program_lines` are the rows holding the most bytes at the peak, up to
// as many again that held a hundredth of the peak at their own peak, and the other rows on those
// rows' lines, in that order, and `folded` is under those program lines only; with 0, every row
// in frame order.
StackReport build_stack_report(const StackIndex& index, std::string_view function,
                               std::size_t top_stacks, std::size_t top_lines = 0);

}  // namespace memslim::cpython
