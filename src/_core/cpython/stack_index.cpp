// stack_index.cpp — the report's view of the frame tree (see stack_index.h).
#include "cpython/stack_index.h"

#include <string>
#include <unordered_map>

#include "cpython/frames.h"
#include "cpython/tracker.h"

#include <algorithm>

namespace memslim::cpython {

namespace {

std::string_view utf8(PyObject* text) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_Check(text) ? PyUnicode_AsUTF8AndSize(text, &size) : nullptr;
    if (data == nullptr) {
        PyErr_Clear();
        return {};
    }
    return {data, static_cast<std::size_t>(size)};
}

std::uint64_t pair_key(std::uint32_t a, std::uint32_t b) {
    return static_cast<std::uint64_t>(a) << 32 | b;
}

// Per code object, computed once: its function (file and qualified name), whether it is
// memslim's own, and its line table as ranges of bytecode offsets.
struct LineRange {
    int start;  // bytes
    int end;
    int line;
};
struct CodeFacts {
    std::uint32_t function;
    bool own;
    std::vector<LineRange> ranges;
};

// The code's line table from co_lines(), read once: PyCode_Addr2Line scans the table from its
// start on every call, which made resolving a big program's frames quadratic.
std::vector<LineRange> line_ranges(PyCodeObject* code) {
    std::vector<LineRange> ranges;
    PyObject* lines = PyObject_CallMethod(reinterpret_cast<PyObject*>(code), "co_lines", nullptr);
    PyObject* iterator = lines != nullptr ? PyObject_GetIter(lines) : nullptr;
    Py_XDECREF(lines);
    if (iterator == nullptr) {
        PyErr_Clear();
        return ranges;
    }
    while (PyObject* item = PyIter_Next(iterator)) {
        if (PyTuple_Check(item) && PyTuple_GET_SIZE(item) == 3) {
            PyObject* line = PyTuple_GET_ITEM(item, 2);
            ranges.push_back({static_cast<int>(PyLong_AsLong(PyTuple_GET_ITEM(item, 0))),
                              static_cast<int>(PyLong_AsLong(PyTuple_GET_ITEM(item, 1))),
                              line == Py_None ? -1 : static_cast<int>(PyLong_AsLong(line))});
        }
        Py_DECREF(item);
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) PyErr_Clear();
    return ranges;
}

// What line_of(code, instruction) gives, from the code's ranges.
int line_in(const CodeFacts& facts, PyCodeObject* code, std::uint32_t instruction) {
    const auto offset = static_cast<int>(instruction * 2);  // 16-bit code units, 3.11-3.13
    const auto& ranges = facts.ranges;
    auto it = std::upper_bound(ranges.begin(), ranges.end(), offset,
                               [](int value, const LineRange& r) { return value < r.start; });
    if (it == ranges.begin()) return code->co_firstlineno;
    --it;
    if (offset >= it->end || it->line < 0) return code->co_firstlineno;
    return it->line;
}

}  // namespace

StackIndex build_stack_index(std::string_view own_prefix) {
    StackIndex index;
    std::vector<engine::Frame> node_frames;
    copy_frame_tree(&node_frames, &index.node_parent);
    const std::size_t n = node_frames.size();
    index.node_frame.assign(n, StackIndex::kNone);
    index.node_user.assign(n, 0);
    index.user_parent.push_back(0);
    index.user_frame.push_back(StackIndex::kNone);

    std::unordered_map<std::uintptr_t, CodeFacts> codes;
    std::unordered_map<std::string, std::uint32_t> functions;  // "file\0qualname"
    std::unordered_map<std::uint64_t, std::uint32_t> printed;  // (function, line) -> frame
    std::unordered_map<std::uint64_t, std::uint32_t> users;    // (parent user, frame) -> user
    for (engine::NodeId node = 1; node < n; ++node) {
        const engine::Frame& frame = node_frames[node];
        auto* code = reinterpret_cast<PyCodeObject*>(frame.code);
        auto [facts, fresh_code] = codes.try_emplace(frame.code);
        if (fresh_code) {
            const std::string_view file = utf8(code->co_filename);
            std::string key(file);
            key.push_back('\0');
            key.append(utf8(code->co_qualname));
            auto [fn, fresh_function] = functions.try_emplace(key, functions.size());
            if (fresh_function) index.functions.push_back(std::move(key));
            facts->second = {fn->second, file.starts_with(own_prefix), line_ranges(code)};
        }
        const int line = line_in(facts->second, code, frame.instruction);
        const auto [printed_at, fresh_frame] =
            printed.try_emplace(pair_key(facts->second.function, static_cast<std::uint32_t>(line)),
                                static_cast<std::uint32_t>(index.frames.size()));
        if (fresh_frame) {
            index.frames.push_back({reinterpret_cast<PyObject*>(code), line});
            index.frame_function.push_back(facts->second.function);
        }
        const std::uint32_t frame_id = printed_at->second;
        index.node_frame[node] = frame_id;
        if (facts->second.own) continue;  // the user stack ends below memslim's own frames
        const std::uint32_t parent_user = index.node_user[index.node_parent[node]];
        auto [user, fresh_user] = users.try_emplace(
            pair_key(parent_user, frame_id), static_cast<std::uint32_t>(index.user_parent.size()));
        if (fresh_user) {
            index.user_parent.push_back(parent_user);
            index.user_frame.push_back(frame_id);
        }
        index.node_user[node] = user->second;
    }
    return index;
}

namespace {

void add(Totals& totals, const SiteStats& site) {
    totals.bytes_at_peak += site.bytes_at_peak;
    totals.bytes_live += site.bytes_live;
    totals.allocated_bytes += site.allocated_bytes;
    totals.allocations += site.allocations;
}

}  // namespace

StackReport build_stack_report(const StackIndex& index, const TrackResult& result,
                               std::string_view function, std::size_t top_stacks) {
    StackReport report;
    const std::size_t users = index.user_parent.size();
    std::vector<Totals> by_frame(index.frames.size());
    std::vector<std::int64_t> user_at_peak(users, 0);
    report.node_at_peak.assign(index.node_parent.size(), 0);
    for (const SiteStats& site : result.sites) {
        report.gc_freed_bytes += site.gc_freed_bytes;
        if (site.site < report.node_at_peak.size()) {
            report.node_at_peak[site.site] = site.bytes_at_peak;
        }
        const std::uint32_t user =
            site.site < index.node_user.size() ? index.node_user[site.site] : 0;
        if (user == 0) {
            if (site.site == engine::FrameTree::kRoot) add(report.no_stack, site);
            continue;  // allocated by memslim itself: no user frame
        }
        add(by_frame[index.user_frame[user]], site);
        user_at_peak[user] += site.bytes_at_peak;
    }
    for (std::uint32_t frame = 0; frame < by_frame.size(); ++frame) {
        if (by_frame[frame].allocations > 0) report.lines.emplace_back(frame, by_frame[frame]);
    }

    std::vector<std::pair<std::uint32_t, std::int64_t>> ranked;
    for (std::uint32_t user = 1; user < users; ++user) {
        if (user_at_peak[user] > 0) ranked.emplace_back(user, user_at_peak[user]);
    }
    const auto larger = [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
    };
    const std::size_t keep = std::min(top_stacks, ranked.size());
    std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(keep),
                      ranked.end(), larger);
    ranked.resize(keep);
    report.top_stacks = std::move(ranked);

    // The function to table: the one asked for, or the one whose lines (as innermost user
    // frames) hold the most bytes at the peak.
    std::uint32_t wanted = StackIndex::kNone;
    if (!function.empty()) {
        for (std::uint32_t fn = 0; fn < index.functions.size(); ++fn) {
            if (index.functions[fn] == function) wanted = fn;
        }
    } else {
        std::vector<std::int64_t> by_function(index.functions.size(), 0);
        for (const auto& [frame, totals] : report.lines) {
            by_function[index.frame_function[frame]] += totals.bytes_at_peak;
        }
        const auto best = std::max_element(by_function.begin(), by_function.end());
        if (best != by_function.end() && *best > 0) {
            wanted = static_cast<std::uint32_t>(best - by_function.begin());
        }
    }
    if (wanted == StackIndex::kNone) return report;
    // Each user stack's innermost frame of that function: parents come before children, so one
    // pass in id order finds it for every user stack.
    std::vector<std::uint32_t> nearest(users, StackIndex::kNone);
    for (std::uint32_t user = 1; user < users; ++user) {
        const std::uint32_t frame = index.user_frame[user];
        nearest[user] =
            index.frame_function[frame] == wanted ? frame : nearest[index.user_parent[user]];
        if (report.function_frame == StackIndex::kNone && nearest[user] != StackIndex::kNone) {
            report.function_frame = nearest[user];
        }
    }
    std::vector<Totals> function_lines(index.frames.size());
    std::vector<bool> seen(index.frames.size(), false);
    for (const SiteStats& site : result.sites) {
        const std::uint32_t user =
            site.site < index.node_user.size() ? index.node_user[site.site] : 0;
        const std::uint32_t frame = nearest[user];
        if (frame == StackIndex::kNone) continue;
        add(function_lines[frame], site);
        seen[frame] = true;
    }
    for (std::uint32_t frame = 0; frame < function_lines.size(); ++frame) {
        if (seen[frame]) report.function_lines.emplace_back(frame, function_lines[frame]);
    }
    return report;
}

}  // namespace memslim::cpython
