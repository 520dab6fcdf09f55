// stack_index.cpp — the report's view of the frame tree (see stack_index.h).
#include "cpython/stack_index.h"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "cpython/frames.h"
#include "cpython/tracker.h"
#include "engine/line_table.h"

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

// Per code object, computed once: its function (file and qualified name) and whether it is
// memslim's own. (Its line table is recorded_ranges'.)
using engine::LineRange;
struct CodeFacts {
    std::uint32_t function;
    bool own;
    bool wrapper;  // memslim's, but in the program's calls: skipped (see kWrappers)
    bool library;
};

// memslim's modules whose functions wrap the program's own calls: the import hook's loader
// (_imports.py) runs every module the program imports, and the subprocess and multiprocessing
// wrappers (children.py) start its children. Their frames sit between the program's and a
// library's: a stack cut there showed `import subprocess`'s allocations at subprocess.py:119,
// `import selectors`, a library line with no program line above it.
bool is_wrapper_file(std::string_view file) {
    for (std::string_view name : {"/_imports.py", "/children.py"}) {
        if (file.ends_with(name)) return true;
    }
    return false;
}

// Where the standard library and installed packages live: memslim._paths.library_dirs(), the
// one definition the report and the advice read too. Read once, never under the tracker's lock
// (it calls Python).
const std::vector<std::string>& library_roots() {
    static const std::vector<std::string> roots = [] {
        std::vector<std::string> found;
        if (PyObject* paths = PyImport_ImportModule("memslim._paths")) {
            PyObject* dirs = PyObject_CallMethod(paths, "library_dirs", nullptr);
            if (dirs != nullptr && PyTuple_Check(dirs)) {
                for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(dirs); ++i) {
                    PyObject* dir = PyTuple_GET_ITEM(dirs, i);
                    if (PyUnicode_Check(dir) && !utf8(dir).empty()) found.emplace_back(utf8(dir));
                }
            }
            Py_XDECREF(dirs);
            Py_DECREF(paths);
        }
        PyErr_Clear();
        return found;
    }();
    return roots;
}

bool is_library_file(std::string_view file) {
    if (file.starts_with("<frozen") || file == "<string>") return true;
    if (file.find("/site-packages/") != std::string_view::npos ||
        file.find("/dist-packages/") != std::string_view::npos) {
        return true;
    }
    for (const std::string& root : library_roots()) {
        if (file.starts_with(root)) return true;
    }
    return false;
}

}  // namespace

// The code's line table, read once: PyCode_Addr2Line scans the table from its start on every
// call, which made resolving a big program's frames quadratic. Decoded from co_linetable's
// bytes (engine/line_table.h), or, should they not decode, from co_lines().
std::vector<LineRange> line_ranges(PyCodeObject* code) {
    std::vector<LineRange> ranges;
    PyObject* table = code->co_linetable;
    if (table != nullptr && PyBytes_Check(table)) {
        const std::span<const std::uint8_t> bytes(
            reinterpret_cast<const std::uint8_t*>(PyBytes_AS_STRING(table)),
            static_cast<std::size_t>(PyBytes_GET_SIZE(table)));
        if (engine::decode_line_table(bytes, code->co_firstlineno, &ranges)) {
            ranges.shrink_to_fit();
            return ranges;
        }
        ranges.clear();
    }
    PyObject* lines = PyObject_CallMethod(reinterpret_cast<PyObject*>(code), "co_lines", nullptr);
    PyObject* iterator = lines != nullptr ? PyObject_GetIter(lines) : nullptr;
    Py_XDECREF(lines);
    if (iterator == nullptr) {
        PyErr_Clear();
        return ranges;
    }
    while (PyObject* item = PyIter_Next(iterator)) {
        if (PyTuple_Check(item) && PyTuple_GET_SIZE(item) == 3) {
            PyObject* line_object = PyTuple_GET_ITEM(item, 2);
            const LineRange range{
                static_cast<int>(PyLong_AsLong(PyTuple_GET_ITEM(item, 0))),
                static_cast<int>(PyLong_AsLong(PyTuple_GET_ITEM(item, 1))),
                line_object == Py_None ? -1 : static_cast<int>(PyLong_AsLong(line_object))};
            // Consecutive ranges of one line are one (a code object's table lists each
            // instruction's position): a big program's codes hold 1.6 million of them.
            engine::append_merged(ranges, range);
        }
        Py_DECREF(item);
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) PyErr_Clear();
    ranges.shrink_to_fit();
    return ranges;
}

namespace {

// What line_of(code, instruction) gives, from the code's ranges.
int line_in(const std::vector<LineRange>& ranges, PyCodeObject* code, std::uint32_t instruction) {
    const auto offset = static_cast<int>(instruction * 2);  // 16-bit code units, 3.11-3.13
    auto it = std::upper_bound(ranges.begin(), ranges.end(), offset,
                               [](int value, const LineRange& r) { return value < r.start; });
    if (it == ranges.begin()) return code->co_firstlineno;
    --it;
    if (offset >= it->end || it->line < 0) return code->co_firstlineno;
    return it->line;
}

// The index being kept, and what building it needs to extend it: per code object its facts,
// the functions and printed frames already numbered.
struct IndexState {
    std::uint64_t generation = 0;
    std::string own_prefix;
    StackIndex index;
    std::unordered_map<std::uintptr_t, CodeFacts> codes;
    std::unordered_map<std::string, std::uint32_t> functions;  // "file\0qualname"
    std::unordered_map<std::uint64_t, std::uint32_t> printed;  // (function, line) -> frame
};
IndexState* g_index = nullptr;  // C++ heap; guarded by the GIL

// The line tables of the recording's code objects, decoded once each (the index's and
// recorded_line_of's); the recording they belong to.
struct LineCache {
    std::uint64_t generation = 0;
    std::unordered_map<std::uintptr_t, std::vector<LineRange>> ranges;
};
LineCache* g_lines = nullptr;  // C++ heap; guarded by the GIL

// A recorded code object's line table; stays where it is until the recording changes or
// release_stack_index.
const std::vector<LineRange>& recorded_ranges(PyCodeObject* code) {
    UntrackedScope untracked;  // the cache is memslim's
    const std::uint64_t generation = recording_generation();
    if (g_lines == nullptr || g_lines->generation != generation) {
        delete g_lines;
        g_lines = new LineCache{generation, {}};
    }
    auto [it, fresh] = g_lines->ranges.try_emplace(reinterpret_cast<std::uintptr_t>(code));
    if (fresh) it->second = line_ranges(code);
    return it->second;
}

}  // namespace

int recorded_line_of(PyCodeObject* code, std::uint32_t instruction) {
    return line_in(recorded_ranges(code), code, instruction);
}

void release_stack_index() {
    UntrackedScope untracked;
    delete g_index;
    g_index = nullptr;
    delete g_lines;
    g_lines = nullptr;
}

const StackIndex& build_stack_index(std::string_view own_prefix) {
    UntrackedScope untracked;  // the index is memslim's (and the tree's lock is held below)
    // Read before the tree's lock is taken: it may import modules, and an import can release
    // the GIL to a thread that then spins on that lock in an allocation hook (a deadlock of a
    // checkpoint thread and the program, under ASan's slower imports).
    static_cast<void>(library_roots());
    const std::uint64_t generation = recording_generation();
    if (g_index == nullptr || g_index->generation != generation ||
        g_index->own_prefix != own_prefix) {
        delete g_index;
        g_index = new IndexState{generation, std::string(own_prefix), {}, {}, {}, {}};
        g_index->index.node_user.push_back(0);  // the root
    }
    IndexState& state = *g_index;
    StackIndex& index = state.index;
    auto code_facts = [&](std::uintptr_t address) -> CodeFacts& {
        auto [facts, fresh_code] = state.codes.try_emplace(address);
        if (fresh_code) {
            auto* code = reinterpret_cast<PyCodeObject*>(address);
            const std::string_view file = utf8(code->co_filename);
            std::string key(file);
            key.push_back('\0');
            key.append(utf8(code->co_qualname));
            auto [fn, fresh_function] = state.functions.try_emplace(key, state.functions.size());
            if (fresh_function) index.functions.push_back(std::move(key));
            const bool own = file.starts_with(state.own_prefix);
            facts->second = {fn->second, own, own && is_wrapper_file(file),
                             is_library_file(file)};
        }
        return facts->second;
    };
    // A node's siblings are mostly added one after another, so consecutive nodes often share
    // their code object and line: one-entry caches in front of the maps.
    std::uintptr_t last_code = 0;
    CodeFacts* last_facts = nullptr;
    const std::vector<LineRange>* last_ranges = nullptr;  // read once a line is needed
    std::uint64_t last_printed_key = ~std::uint64_t{0};
    std::uint32_t last_printed = 0;
    // Nodes come in id order, from the first one not indexed yet: node_user grows with them.
    const auto first = static_cast<engine::NodeId>(index.node_user.size());
    if (first == 1) index.users.reserve(recorded_tree_size());  // at most one user node each
    // No collection while the tree's lock is held below: reading a code object's line table
    // allocates, a collection runs memslim's GC callback (Python code), and the interpreter
    // may hand the GIL to a thread that then spins on that lock in an allocation hook.
    const int gc_was_enabled = PyGC_Disable();
    visit_frame_tree(
        [&](const engine::Frame& frame, engine::NodeId parent) {
            auto* code = reinterpret_cast<PyCodeObject*>(frame.code);
            if (frame.code != last_code) {
                last_facts = &code_facts(frame.code);
                last_ranges = nullptr;
                last_code = frame.code;
            }
            const CodeFacts& facts = *last_facts;
            if (facts.wrapper) {  // the program's stack goes on through it
                index.node_user.push_back(index.node_user[parent]);
                return;
            }
            if (facts.own) {  // the user stack ends below memslim's own frames
                index.node_user.push_back(0);
                return;
            }
            if (last_ranges == nullptr) last_ranges = &recorded_ranges(code);
            const int line = line_in(*last_ranges, code, frame.instruction);
            const std::uint64_t key = pair_key(facts.function, static_cast<std::uint32_t>(line));
            if (key != last_printed_key) {
                const auto [printed_at, fresh_frame] =
                    state.printed.try_emplace(key, static_cast<std::uint32_t>(index.frames.size()));
                if (fresh_frame) {
                    index.frames.push_back({reinterpret_cast<PyObject*>(code), line});
                    index.frame_function.push_back(facts.function);
                    index.frame_library.push_back(facts.library ? 1 : 0);
                }
                last_printed_key = key;
                last_printed = printed_at->second;
            }
            bool fresh_user = false;
            index.node_user.push_back(
                index.users.child(index.node_user[parent], {last_printed, 0}, &fresh_user));
        },
        first);
    if (gc_was_enabled) PyGC_Enable();
    return index;
}

namespace {

void add(Totals& totals, const SiteStats& site) {
    totals.bytes_at_peak += site.bytes_at_peak;
    totals.bytes_live += site.bytes_live;
    totals.allocated_bytes += site.allocated_bytes;
    totals.allocations += site.allocations;
    totals.at_peak_by_domain[static_cast<std::size_t>(site.domain)] += site.bytes_at_peak;
    totals.live_by_domain[static_cast<std::size_t>(site.domain)] += site.bytes_live;
    totals.high_bytes += site.high_bytes;
    if (site.high_bytes > totals.largest_high) {
        totals.largest_high = site.high_bytes;
        totals.total_at_high = site.total_at_high;
    }
}

// What choosing the report's rows reads of a printed frame's sites (keep_top): 32 bytes, where
// Totals are 120. Summed for every frame first; the full Totals only for the rows kept. An
// import-heavy program has a printed frame per line its imports ran (42,700 after `import
// torch`), nearly all of them some site's innermost frame: with three arrays of Totals over
// every frame, and the rows copied out of them, the report's first step raised that run's peak
// RSS by 24 MB (9 MB now), while the program's whole heap was still there.
struct RowKey {
    std::int64_t bytes_at_peak = 0;
    std::int64_t allocated_bytes = 0;
    std::int64_t high_bytes = 0;
    std::uint64_t allocations = 0;
    void add(const SiteStats& site) {
        bytes_at_peak += site.bytes_at_peak;
        allocated_bytes += site.allocated_bytes;
        high_bytes += site.high_bytes;
        allocations += site.allocations;
    }
};
using KeyRow = std::pair<std::uint32_t, RowKey>;

// A printed frame's "file:line": two functions' rows on one line (a comprehension and its
// caller) are one line of the report, so a kept row keeps the others of its line.
std::string file_line(const StackIndex& index, std::uint32_t frame) {
    const std::string& function = index.functions[index.frame_function[frame]];
    return std::string(function.data(), function.find('\0')) + ':' +
           std::to_string(index.frames[frame].line);
}

// With top_lines, the rows holding the most bytes at the peak (ties: the most allocated), and
// up to as many again that held more than `own_peak_floor` at their own peak (a temporary
// built and freed between two moments of the run's peak, which the generator advice weighs
// against the one at the peak), then every other row on a kept row's line; in that order.
// Without, every row, in frame order.
void keep_top(const StackIndex& index, std::vector<KeyRow>& rows, std::size_t top_lines,
              std::int64_t own_peak_floor) {
    if (top_lines == 0 || rows.size() <= top_lines) return;
    std::partial_sort(rows.begin(), rows.begin() + top_lines, rows.end(),
                      [](const KeyRow& a, const KeyRow& b) {
                          return a.second.bytes_at_peak != b.second.bytes_at_peak
                                     ? a.second.bytes_at_peak > b.second.bytes_at_peak
                                     : a.second.allocated_bytes > b.second.allocated_bytes;
                      });
    std::unordered_set<std::string> kept;
    for (std::size_t i = 0; i < top_lines; ++i) kept.insert(file_line(index, rows[i].first));
    const auto rest = std::partition(rows.begin() + top_lines, rows.end(),
                                     [own_peak_floor](const KeyRow& row) {
                                         return row.second.high_bytes > own_peak_floor;
                                     });
    const auto high = static_cast<std::size_t>(rest - (rows.begin() + top_lines));
    const auto by_high = rows.begin() + top_lines + std::min(high, top_lines);
    std::partial_sort(rows.begin() + top_lines, by_high, rest,
                      [](const KeyRow& a, const KeyRow& b) {
                          return a.second.high_bytes > b.second.high_bytes;
                      });
    for (auto row = rows.begin() + top_lines; row != by_high; ++row) {
        kept.insert(file_line(index, row->first));
    }
    const auto end =
        std::stable_partition(rows.begin() + top_lines, rows.end(), [&](const KeyRow& row) {
            return kept.contains(file_line(index, row.first));
        });
    rows.erase(end, rows.end());
}

// The rows of `keys` (per frame) that keep_top keeps, each with room for its full Totals;
// `slot` maps a kept frame to its row.
void kept_rows(const StackIndex& index, const std::vector<RowKey>& keys, std::size_t top_lines,
               std::int64_t own_peak_floor,
               std::vector<std::pair<std::uint32_t, Totals>>* out,
               std::vector<std::uint32_t>* slot) {
    std::vector<KeyRow> rows;
    for (std::uint32_t frame = 0; frame < keys.size(); ++frame) {
        if (keys[frame].allocations > 0) rows.emplace_back(frame, keys[frame]);
    }
    keep_top(index, rows, top_lines, own_peak_floor);
    slot->assign(keys.size(), StackIndex::kNone);
    out->reserve(rows.size());
    for (const auto& [frame, key] : rows) {
        (*slot)[frame] = static_cast<std::uint32_t>(out->size());
        out->emplace_back(frame, Totals{});
    }
}

}  // namespace

StackReport build_stack_report(const StackIndex& index, std::string_view function,
                               std::size_t top_stacks, std::size_t top_lines) {
    StackReport report;
    UntrackedScope untracked;  // the report is memslim's (and the sites' lock is held below)
    const std::size_t users = index.users.size();
    std::vector<std::int64_t> user_at_peak(users, 0);
    // Per user stack, its nearest program frame (parents come first: one pass in id order);
    // kNone while only library frames were seen.
    std::vector<std::uint32_t> program(users, StackIndex::kNone);
    for (std::uint32_t user = 1; user < users; ++user) {
        const std::uint32_t frame = index.user_frame(user);
        program[user] = index.frame_library[frame] != 0 ? program[index.user_parent(user)] : frame;
    }
    const auto user_of = [&index](engine::SiteId site) -> std::uint32_t {
        return site < index.node_user.size() ? index.node_user[site] : 0;
    };
    // A site's row among the lines (its innermost user frame) and among the program's lines
    // (its nearest program frame, else its innermost); returns its user stack, 0 (and neither
    // row) if memslim allocated it.
    const auto frames_of = [&](const SiteStats& site, std::uint32_t* innermost,
                               std::uint32_t* nearest) {
        const std::uint32_t user = user_of(site.site);
        if (user != 0) {
            *innermost = index.user_frame(user);
            *nearest = program[user] != StackIndex::kNone ? program[user] : *innermost;
        }
        return user;
    };
    {
        // First, what choosing the rows needs.
        std::vector<RowKey> line_keys(index.frames.size());
        std::vector<RowKey> program_keys(index.frames.size());
        visit_sites([&](const SiteStats& site) {
            ++report.sites;
            report.gc_freed_bytes += site.gc_freed_bytes;
            add(report.all, site);
            std::uint32_t innermost = 0;
            std::uint32_t nearest = 0;
            const std::uint32_t user = frames_of(site, &innermost, &nearest);
            if (user == 0) {
                if (site.site == engine::FrameTree::kRoot) add(report.no_stack, site);
                return;  // allocated by memslim itself: no user frame
            }
            line_keys[innermost].add(site);
            program_keys[nearest].add(site);
            user_at_peak[user] += site.bytes_at_peak;
        });
        const std::int64_t own_peak_floor = report.all.bytes_at_peak / 100;
        std::vector<std::uint32_t> line_slot;
        kept_rows(index, line_keys, top_lines, own_peak_floor, &report.lines, &line_slot);
        std::vector<RowKey>().swap(line_keys);
        std::vector<std::uint32_t> program_slot;
        kept_rows(index, program_keys, top_lines, own_peak_floor, &report.program_lines,
                  &program_slot);
        std::vector<RowKey>().swap(program_keys);
        // Then the kept rows' Totals, and the library lines folded under each kept program line.
        std::unordered_map<std::uint64_t, std::int64_t> folded;  // (program, library) -> at peak
        visit_sites([&](const SiteStats& site) {
            std::uint32_t innermost = 0;
            std::uint32_t nearest = 0;
            if (frames_of(site, &innermost, &nearest) == 0) return;
            if (line_slot[innermost] != StackIndex::kNone) {
                add(report.lines[line_slot[innermost]].second, site);
            }
            if (program_slot[nearest] == StackIndex::kNone) return;
            add(report.program_lines[program_slot[nearest]].second, site);
            if (nearest != innermost && site.bytes_at_peak != 0) {
                folded[pair_key(nearest, innermost)] += site.bytes_at_peak;
            }
        });
        report.folded.reserve(folded.size());
        for (const auto& [key, bytes] : folded) {
            report.folded.emplace_back(static_cast<std::uint32_t>(key >> 32),
                                       static_cast<std::uint32_t>(key & 0xFFFFFFFFu), bytes);
        }
    }

    // The top stacks, from a bounded heap (the smallest kept one on top).
    const auto larger = [](const std::pair<std::uint32_t, std::int64_t>& a,
                           const std::pair<std::uint32_t, std::int64_t>& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
    };
    auto& top = report.top_stacks;
    for (std::uint32_t user = 1; user < users && top_stacks > 0; ++user) {
        if (user_at_peak[user] <= 0) continue;
        const std::pair<std::uint32_t, std::int64_t> entry{user, user_at_peak[user]};
        if (top.size() < top_stacks) {
            top.push_back(entry);
            std::push_heap(top.begin(), top.end(), larger);
        } else if (larger(entry, top.front())) {
            std::pop_heap(top.begin(), top.end(), larger);
            top.back() = entry;
            std::push_heap(top.begin(), top.end(), larger);
        }
    }
    std::sort_heap(top.begin(), top.end(), larger);
    std::vector<std::int64_t>().swap(user_at_peak);
    std::vector<std::uint32_t>().swap(program);

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
        const std::uint32_t frame = index.user_frame(user);
        nearest[user] =
            index.frame_function[frame] == wanted ? frame : nearest[index.user_parent(user)];
        if (report.function_frame == StackIndex::kNone && nearest[user] != StackIndex::kNone) {
            report.function_frame = nearest[user];
        }
    }
    // One function's frames are few: their rows by frame, then in frame order.
    std::unordered_map<std::uint32_t, Totals> function_lines;
    visit_sites([&](const SiteStats& site) {
        const std::uint32_t frame = nearest[user_of(site.site)];
        if (frame != StackIndex::kNone) add(function_lines[frame], site);
    });
    report.function_lines.assign(function_lines.begin(), function_lines.end());
    std::sort(report.function_lines.begin(), report.function_lines.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return report;
}

}  // namespace memslim::cpython
