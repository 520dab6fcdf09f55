// bindings.cpp — exposes the C++ core to Python as memslim._core (the only nanobind user).
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <chrono>

#include "cpython/allocator_stats.h"
#include "cpython/census_advice.h"
#include "cpython/deep_size.h"
#include "cpython/finalizing.h"
#include "cpython/frames.h"
#include "cpython/heap_snapshot.h"
#include "cpython/object_layout.h"
#include "cpython/stack_index.h"
#include "engine/address_index.h"
#include "engine/heap_summary.h"
#include "engine/progress.h"
#include "engine/signal_relay.h"
#include "engine/snapshot_file.h"
#include "engine/tally.h"

#include <fstream>
#include <optional>
#include <sstream>
#include "cpython/native_hooks.h"
#include "cpython/numpy_handler.h"
#include "cpython/tracker.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

// A frame as Python data: (file, qualified function name, line), and with `code_id` the code
// object's address as a fourth item (the report's frames table keys functions by it).
nb::tuple frame_tuple(const void* code_object, int line, std::optional<std::uintptr_t> code_id) {
    const auto* code = static_cast<const PyCodeObject*>(code_object);
    nb::object file = nb::borrow(code->co_filename);
    nb::object function = nb::borrow(code->co_qualname);
    if (!code_id) return nb::make_tuple(file, function, line);
    return nb::make_tuple(file, function, line, *code_id);
}

nb::object deep_sizeof(nb::handle obj, unsigned enter, bool by_type) {
    memslim::cpython::DeepSize result;
    if (!memslim::cpython::deep_sizeof(obj.ptr(), enter, by_type, result)) {
        throw nb::python_error();
    }
    if (!by_type) return nb::int_(result.bytes);
    nb::list rows;
    for (const auto& row : result.by_type) {
        nb::object type = nb::steal(reinterpret_cast<PyObject*>(row.type));
        rows.append(nb::make_tuple(type, row.count, row.bytes));
    }
    return nb::make_tuple(result.bytes, result.objects, rows);
}

void start_tracking(const std::string& mode, double sample_interval, std::uint64_t seed,
                    double timeline_interval, bool stacks_above_caller,
                    bool full_import_stacks) {
    memslim::cpython::TrackOptions options;
    if (mode == "exact") {
        options.mode = memslim::cpython::TrackMode::kExact;
    } else if (mode == "sample") {
        options.mode = memslim::cpython::TrackMode::kSample;
    } else {
        throw nb::value_error("mode must be 'exact' or 'sample'");
    }
    if (!(sample_interval >= 1.0)) throw nb::value_error("sample interval must be >= 1 byte");
    if (!(timeline_interval > 0.0)) throw nb::value_error("timeline interval must be > 0");
    options.sample_interval_bytes = sample_interval;
    options.seed = seed;
    options.timeline_interval_seconds = timeline_interval;
    options.stacks_above_caller = stacks_above_caller;
    options.fold_imports = !full_import_stacks;
    if (!memslim::cpython::start_tracking(options)) throw nb::python_error();
}

// Bytes per domain other than Python's ({"numpy": ...}), only where there are any.
nb::dict other_domains(const std::array<std::int64_t, memslim::cpython::kDomains>& bytes) {
    nb::dict out;
    for (std::size_t d = 1; d < bytes.size(); ++d) {
        if (bytes[d] != 0) out[memslim::cpython::kDomainNames[d]] = bytes[d];
    }
    return out;
}

nb::tuple totals_row(std::uint32_t frame, const memslim::cpython::Totals& t) {
    return nb::make_tuple(frame, t.bytes_at_peak, t.bytes_live, t.allocated_bytes, t.allocations,
                          other_domains(t.at_peak_by_domain), t.high_bytes, t.total_at_high);
}

// What was recorded, as plain Python data, aggregated in C++ (see cpython/stack_index.h):
// `frames` are the distinct printed frames (file, function, line, code id); `lines`, the top
// stacks and one function's lines refer to them by index. The sites a census names are resolved
// one by one (site_stack, site_bytes_at_peak).
nb::dict tracking_result(std::string_view own_prefix, std::string_view function,
                         std::size_t top_stacks, std::size_t top_lines) {
    using memslim::cpython::StackIndex;
    const memslim::cpython::TrackResult result = memslim::cpython::collect_result(false);
    nb::dict out;
    out["mode"] = result.mode == memslim::cpython::TrackMode::kExact ? "exact" : "sample";
    out["sample_interval_bytes"] = result.sample_interval_bytes;
    out["current_bytes"] = result.current_bytes;
    out["peak_bytes"] = result.peak_bytes;
    out["peak_seconds"] = result.peak_seconds;
    out["peak_standard_error"] = result.peak_standard_error;
    out["elapsed_seconds"] = result.elapsed_seconds;
    out["peak_rss_bytes"] = result.peak_rss_bytes;
    out["bookkeeping_bytes"] = result.bookkeeping_bytes;
    nb::dict parts;
    parts["stacks"] = result.stack_bytes;
    parts["sites"] = result.site_bytes;
    parts["blocks"] = result.block_bytes;
    out["bookkeeping"] = parts;

    const StackIndex& index = memslim::cpython::build_stack_index(own_prefix);
    // With top_lines, only the lines holding the most at the peak (chosen in
    // build_stack_report), and only the frames that what is returned refers to (renumbered): a
    // checkpoint (capture.py) of an import-heavy program then makes a few hundred Python
    // objects instead of 100,000 frames and lines.
    memslim::cpython::StackReport report =
        memslim::cpython::build_stack_report(index, function, top_stacks, top_lines);
    // Under each program line, its top library lines (folded).
    std::vector<std::tuple<std::uint32_t, std::uint32_t, std::int64_t>> folded;
    {
        std::unordered_map<std::uint32_t, int> shown;  // per program frame kept: rows so far
        for (const auto& [frame, totals] : report.program_lines) shown.emplace(frame, 0);
        std::sort(report.folded.begin(), report.folded.end(),
                  [](const auto& a, const auto& b) {
                      return std::get<2>(a) != std::get<2>(b) ? std::get<2>(a) > std::get<2>(b)
                                                              : a < b;  // ties: in frame order
                  });
        for (const auto& row : report.folded) {
            const auto it = shown.find(std::get<0>(row));
            if (it != shown.end() && it->second < 3) {
                ++it->second;
                folded.push_back(row);
            }
        }
    }
    std::vector<std::uint32_t> kept;  // the frames returned, by their index in `index`
    std::vector<std::uint32_t> renumbered(top_lines != 0 ? index.frames.size() : 0,
                                          StackIndex::kNone);
    const auto frame_id = [&](std::uint32_t frame) -> std::uint32_t {
        if (top_lines == 0 || frame == StackIndex::kNone) return frame;
        if (renumbered[frame] == StackIndex::kNone) {
            renumbered[frame] = static_cast<std::uint32_t>(kept.size());
            kept.push_back(frame);
        }
        return renumbered[frame];
    };
    nb::list lines;
    for (const auto& [frame, totals] : report.lines) {
        lines.append(totals_row(frame_id(frame), totals));
    }
    out["lines"] = lines;
    nb::list program_lines;
    for (const auto& [frame, totals] : report.program_lines) {
        program_lines.append(totals_row(frame_id(frame), totals));
    }
    out["program_lines"] = program_lines;
    nb::list folded_rows;
    for (const auto& [program, library, bytes] : folded) {
        folded_rows.append(nb::make_tuple(frame_id(program), frame_id(library), bytes));
    }
    out["folded"] = folded_rows;
    out["no_stack"] = totals_row(StackIndex::kNone, report.no_stack);
    nb::list stacks;
    for (const auto& [user, at_peak] : report.top_stacks) {
        nb::list stack;
        for (std::uint32_t u = user; u != 0; u = index.user_parent(u)) {
            stack.append(frame_id(index.user_frame(u)));
        }
        stacks.append(nb::make_tuple(nb::tuple(stack), at_peak));
    }
    out["stacks"] = stacks;
    out["function_frame"] = report.function_frame == StackIndex::kNone
                                ? nb::none()
                                : nb::int_(frame_id(report.function_frame));
    nb::list function_lines;
    for (const auto& [frame, totals] : report.function_lines) {
        function_lines.append(totals_row(frame_id(frame), totals));
    }
    out["function_lines"] = function_lines;
    nb::list frames;
    const auto add_frame = [&](std::uint32_t f) {
        const auto& frame = index.frames[f];
        frames.append(
            frame_tuple(frame.code, frame.line, reinterpret_cast<std::uintptr_t>(frame.code)));
    };
    if (top_lines == 0) {
        for (std::uint32_t f = 0; f < index.frames.size(); ++f) add_frame(f);
    } else {
        for (std::uint32_t f : kept) add_frame(f);
    }
    out["frames"] = frames;
    if (top_lines != 0) {
        // The frames above are those of the top lines only: the functions that ran, apart.
        nb::list functions;
        for (const std::string& key : index.functions) {
            const std::size_t split = key.find('\0');
            functions.append(
                nb::make_tuple(nb::str(key.data(), split),
                               nb::str(key.data() + split + 1, key.size() - split - 1)));
        }
        out["functions"] = functions;
    }
    out["gc_freed_bytes"] = report.gc_freed_bytes;
    out["sites"] = report.sites;
    nb::dict peak_by_domain;
    nb::dict end_by_domain;
    for (std::size_t d = 0; d < memslim::cpython::kDomains; ++d) {
        peak_by_domain[memslim::cpython::kDomainNames[d]] = report.all.at_peak_by_domain[d];
        end_by_domain[memslim::cpython::kDomainNames[d]] = report.all.live_by_domain[d];
    }
    out["peak_by_domain"] = peak_by_domain;
    out["end_by_domain"] = end_by_domain;
    nb::list timeline;
    for (const auto& point : result.timeline) {
        timeline.append(nb::make_tuple(point.seconds, point.traced_bytes, point.rss_bytes,
                                       point.numpy_bytes, point.native_bytes));
    }
    out["timeline"] = timeline;
    return out;
}

// Every site that allocated: (site, bytes at peak, live, allocated, allocations, freed by the GC).
nb::list site_rows() {
    const memslim::cpython::TrackResult result = memslim::cpython::collect_result();
    nb::list rows;
    for (const auto& s : result.sites) {
        rows.append(nb::make_tuple(s.site, s.bytes_at_peak, s.bytes_live, s.allocated_bytes,
                                   s.allocations, s.gc_freed_bytes,
                                   memslim::cpython::kDomainNames[static_cast<int>(s.domain)]));
    }
    return rows;
}

// A why-alive path as Python data: [(kind, detail, type_of_child)], from the root down.
nb::list labelled_path(const memslim::cpython::HeapSnapshot& snapshot,
                       const memslim::engine::ShortestPaths& paths,
                       memslim::engine::NodeId target) {
    using memslim::engine::NodeId;
    nb::list steps;
    const std::vector<NodeId> path = paths.to(target);
    for (std::size_t i = 1; i < path.size(); ++i) {
        auto* parent =
            i == 1 ? nullptr : reinterpret_cast<PyObject*>(snapshot.address(path[i - 1]));
        auto* child = reinterpret_cast<PyObject*>(snapshot.address(path[i]));
        const memslim::cpython::PathStep step = memslim::cpython::describe_edge(parent, child);
        nb::object detail = step.detail ? nb::steal(step.detail) : nb::none();
        // Modules, and module globals dicts, are named after their module.
        nb::object description = nb::none();
        PyObject* name = nullptr;
        if (PyModule_Check(child)) {
            name = PyModule_GetNameObject(child);
            if (name == nullptr) PyErr_Clear();
        } else if (PyDict_Check(child) && PyDict_GetItemString(child, "__builtins__") != nullptr) {
            name = PyDict_GetItemString(child, "__name__");
            if (name != nullptr && PyUnicode_Check(name)) {
                Py_INCREF(name);
            } else {
                name = nullptr;
            }
        }
        if (name != nullptr) description = nb::steal(name);
        steps.append(nb::make_tuple(step.kind, detail,
                                    nb::borrow(reinterpret_cast<PyObject*>(Py_TYPE(child))),
                                    description));
    }
    return steps;
}

// Keeps the cyclic GC paused while a snapshot's objects are read: creating result objects may
// trigger a collection, and that would free the snapshot's cyclic garbage under it.
class GcPause {
  public:
    GcPause() : was_enabled_(PyGC_Disable()) {}
    ~GcPause() {
        if (was_enabled_) PyGC_Enable();
    }
    GcPause(const GcPause&) = delete;
    GcPause& operator=(const GcPause&) = delete;

  private:
    int was_enabled_;
};

// A site as Python data: its node in the tracker's frame tree, or None when not known. The
// frames are resolved only for the rows a report shows (memslim._stacks, site_stack()).
nb::object site_handle(memslim::engine::SiteId site) {
    if (site == memslim::cpython::kUnknownSite) return nb::none();
    return nb::int_(site);
}

// The frames of a site, innermost first, as (file, function, line) tuples.
nb::tuple site_stack(memslim::engine::SiteId site) {
    nb::list frames;
    for (const auto& frame : memslim::cpython::site_frames(site)) {
        auto* code = reinterpret_cast<PyCodeObject*>(frame.code);
        frames.append(
            frame_tuple(code, memslim::cpython::recorded_line_of(code, frame.instruction),
                        std::nullopt));
    }
    return nb::tuple(frames);
}

// Where in its line each frame of a site was (cpython::span_of its instruction): (line, column,
// end line, end column), columns as UTF-8 byte offsets (-1: not known), innermost first.
nb::tuple site_locations(memslim::engine::SiteId site) {
    nb::list locations;
    for (const auto& frame : memslim::cpython::site_frames(site)) {
        const auto span = memslim::cpython::span_of(reinterpret_cast<PyCodeObject*>(frame.code),
                                                    frame.instruction);
        locations.append(nb::make_tuple(span.line, span.column, span.end_line, span.end_column));
    }
    return nb::tuple(locations);
}

nb::handle type_handle(PyTypeObject* tp) {
    return reinterpret_cast<PyObject*>(tp);
}

nb::tuple borrowed_tuple(const std::vector<PyObject*>& objects) {
    nb::list items;
    for (PyObject* o : objects) items.append(nb::borrow(o));
    return nb::tuple(items);
}

// The advice facts as Python rows (see cpython/census_advice.h for their meaning).
nb::dict advice_rows(const memslim::cpython::CensusAdvice& advice) {
    nb::dict out;
    nb::list classes;
    for (const auto& c : advice.classes) {
        nb::list sets;
        for (const auto& [names, count] : c.attribute_sets) {
            sets.append(nb::make_tuple(borrowed_tuple(names), count));
        }
        nb::dict row;
        row["type"] = type_handle(c.type);
        row["count"] = c.count;
        row["bytes"] = c.bytes;
        row["with_dict"] = c.with_dict;
        row["dict_bytes"] = c.dict_bytes;
        row["weakly_referenced"] = c.weakly_referenced;
        row["attribute_sets"] = sets;
        row["other_sets"] = c.other_sets;
        classes.append(row);
    }
    out["classes"] = classes;
    nb::list lists;
    for (const auto& l : advice.lists) {
        nb::dict row;
        row["site"] = site_handle(l.site);
        row["lists"] = l.lists;
        row["empty"] = l.empty;
        row["bytes"] = l.bytes;
        row["items"] = l.items;
        row["spare_slots"] = l.spare_slots;
        row["float_items"] = l.float_items;
        row["int_items"] = l.int_items;
        row["owned_numbers"] = l.owned_numbers;
        row["owned_number_bytes"] = l.owned_number_bytes;
        row["resized_elsewhere"] = l.resized_elsewhere;
        lists.append(row);
    }
    out["lists"] = lists;
    nb::list strings;
    for (const auto& st : advice.strings) {
        nb::dict row;
        row["site"] = site_handle(st.site);
        row["strings"] = st.strings;
        row["bytes"] = st.bytes;
        row["duplicates"] = st.duplicates;
        row["duplicate_bytes"] = st.duplicate_bytes;
        row["examples"] = borrowed_tuple(st.examples);
        strings.append(row);
    }
    out["strings"] = strings;
    nb::list dicts;
    for (const auto& d : advice.dicts) {
        nb::dict row;
        row["site"] = site_handle(d.site);
        row["dicts"] = d.dicts;
        row["bytes"] = d.bytes;
        row["key_sets"] = d.key_sets;
        row["keys"] = borrowed_tuple(d.common_keys);
        row["common_count"] = d.common_count;
        row["common_bytes"] = d.common_bytes;
        dicts.append(row);
    }
    out["dicts"] = dicts;
    nb::list garbage;
    for (const auto& g : advice.garbage) {
        nb::dict row;
        row["type"] = type_handle(g.type);
        row["site"] = site_handle(g.site);
        row["count"] = g.count;
        row["bytes"] = g.bytes;
        garbage.append(row);
    }
    out["garbage"] = garbage;
    nb::list edges;
    for (const auto& e : advice.cycle_edges) {
        edges.append(nb::make_tuple(type_handle(e.from), e.attribute, type_handle(e.to), e.count,
                                    e.targets, e.checked ? nb::int_(e.live_targets) : nb::none(),
                                    e.checked ? nb::int_(e.stranded) : nb::none()));
    }
    out["cycle_edges"] = edges;
    out["largest_garbage_group"] = advice.largest_garbage_group;
    out["garbage_bytes"] = advice.garbage_bytes;
    out["garbage_objects"] = advice.garbage_objects;
    return out;
}

// Whether `tp` is a class of memslim's own Python code, read from the type's dict.
bool is_memslim_type(PyTypeObject* tp) {
    return PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE) && tp->tp_dict != nullptr &&
           memslim::cpython::is_memslim_module(PyDict_GetItemString(tp->tp_dict, "__module__"));
}

// Takes a snapshot and returns its census and top retainers (with their paths, labelled while
// the objects are certainly alive). With `advice`, also the facts memory advice reads
// (cpython/census_advice.h), the large NumPy arrays and the large DataFrames (strong references,
// for the caller to inspect and drop).
nb::dict heap_snapshot(std::size_t top, bool advice, bool tracked) {
    GcPause gc_paused;
    using memslim::engine::kNoNode;
    using memslim::engine::NodeId;
    using memslim::engine::SiteId;
    memslim::cpython::HeapSnapshot snapshot;
    const bool with_sites = memslim::cpython::sites_known();
    memslim::cpython::StringCensus strings;
    if (!snapshot.take(nullptr, with_sites, /*fold_leaves=*/true, advice ? &strings : nullptr)) {
        throw nb::python_error();
    }
    const auto census_began = std::chrono::steady_clock::now();
    nb::dict out;
    const std::size_t n = snapshot.objects() + 1;
    std::uint64_t total = 0;
    std::unordered_map<PyTypeObject*, std::pair<std::uint64_t, std::uint64_t>> census;
    memslim::engine::LastRow census_row(census);
    for (NodeId node = 1; node < n; ++node) {
        auto& row = census_row(snapshot.type(node));
        row.first += 1;
        row.second += snapshot.size(node);
        total += snapshot.size(node);
    }
    for (const auto& folded : snapshot.folded_by_type()) {
        auto& row = census_row(folded.type);
        row.first += folded.count;
        row.second += folded.bytes;
        total += folded.bytes;
    }
    nb::list types;
    for (const auto& [type, row] : census) {
        types.append(nb::make_tuple(type_handle(type), row.first, row.second));
    }
    out["objects"] = n - 1 + snapshot.folded_objects();
    out["bytes"] = total;
    out["types"] = types;

    // While tracking, each object's allocation site: census by (type, site).
    std::vector<SiteId> no_sites;
    std::span<const SiteId> node_site = snapshot.sites();
    nb::list by_site;
    if (with_sites) {
        // A hash map, then the rows sorted once by (type, site): a std::map of the 90,000 rows
        // of a heap after `import torch` took a sixth of a census child's time in its searches
        // and walks.
        using RowKey = std::pair<PyTypeObject*, SiteId>;
        struct RowHash {
            std::size_t operator()(const RowKey& key) const {
                return std::hash<std::uintptr_t>{}(reinterpret_cast<std::uintptr_t>(key.first) ^
                                                   (std::uintptr_t{key.second} << 32) ^
                                                   key.second);
            }
        };
        std::unordered_map<RowKey, std::pair<std::uint64_t, std::uint64_t>, RowHash> by_key;
        memslim::engine::LastRow row_of(by_key);
        for (NodeId node = 1; node < n; ++node) {
            const SiteId site = node_site[node];
            if (site == memslim::cpython::kUnknownSite) continue;
            auto& row = row_of({snapshot.type(node), site});
            row.first += 1;
            row.second += snapshot.size(node);
        }
        for (const auto& folded : snapshot.folded_by_site()) {
            auto& row = by_key[{folded.type, folded.site}];
            row.first += folded.count;
            row.second += folded.bytes;
        }
        std::vector<std::pair<RowKey, std::pair<std::uint64_t, std::uint64_t>>> rows(
            by_key.begin(), by_key.end());
        decltype(by_key)().swap(by_key);
        std::sort(rows.begin(), rows.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        for (const auto& [key, row] : rows) {
            by_site.append(nb::make_tuple(type_handle(key.first), site_handle(key.second),
                                          row.first, row.second));
        }
        // The tracker's bytes at the rows' sites now: what the same sites' bytes at the peak
        // are compared with (advice's Run.peak_scale). In sample mode the rows cover sampled
        // objects only, counted at their sizes, and these are the samples' weights
        // ("site_live"); in exact mode the census counts an object's bytes at its own site,
        // the tracker each block at the site that allocated it ("site_tracked": an instance's
        // values array, once a dict took it over, is the dict's in the census and stays the
        // instance's site's in the tracker).
        nb::dict site_live;
        for (const auto& [key, row] : rows) {
            const nb::object site = site_handle(key.second);
            if (site.is_none() || site_live.contains(site)) continue;
            site_live[site] = memslim::cpython::site_bytes_live(key.second);
        }
        out[memslim::cpython::sites_sampled() ? "site_live" : "site_tracked"] = site_live;
    }
    out["sites"] = by_site;
    const auto census_ended = std::chrono::steady_clock::now();
    nb::dict timings;
    timings["walk_s"] = snapshot.walk_seconds();
    timings["dominators_s"] = snapshot.dominators_seconds();
    timings["census_s"] = std::chrono::duration<double>(census_ended - census_began).count();
    if (advice) {
        if (node_site.empty()) {
            no_sites.assign(n, memslim::cpython::kUnknownSite);
            node_site = no_sites;
        }
        memslim::cpython::CensusAdvice facts;
        memslim::cpython::collect_census_advice(snapshot, node_site, 100, strings, facts);
        nb::dict rows = advice_rows(facts);
        // (object, site, bytes) per node: strong references, for the caller to read and drop.
        const auto objects = [&](const std::vector<NodeId>& nodes, auto bytes_of) {
            nb::list found;
            for (NodeId node : nodes) {
                found.append(
                    nb::make_tuple(nb::borrow(reinterpret_cast<PyObject*>(snapshot.address(node))),
                                   site_handle(node_site[node]), bytes_of(node)));
            }
            return found;
        };
        rows["arrays"] = objects(facts.arrays, [&](NodeId node) { return snapshot.size(node); });
        rows["frames"] =
            objects(facts.frames, [&](NodeId node) { return snapshot.retained(node); });
        out["advice"] = rows;
        timings["advice_s"] =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - census_ended).count();
    }
    out["timings"] = timings;
    out["analysis_bytes"] = snapshot.memory_bytes();

    // Top retainers (engine/heap_summary.h), leaving out program structure (modules, classes,
    // functions and their dicts) and memslim's own objects (the record of how the program
    // ended holds its globals when the last census runs after it returned).
    std::unordered_map<PyTypeObject*, bool> memslims;  // per type: memslim's own (memo)
    auto candidate = [&](NodeId node) {
        PyTypeObject* tp = snapshot.type(node);
        if (PyType_FastSubclass(tp, Py_TPFLAGS_TYPE_SUBCLASS) || tp == &PyModule_Type ||
            tp == &PyFunction_Type || tp == &PyCode_Type) {
            return false;
        }
        auto [own, added] = memslims.try_emplace(tp, false);
        if (added) own->second = is_memslim_type(tp);
        return !own->second;
    };
    // A module's dict holds a whole module: it is structure, not a retainer to fix.
    auto module_dict = [&](NodeId node) {
        PyObject* o = reinterpret_cast<PyObject*>(snapshot.address(node));
        return PyDict_Check(o) && PyDict_GetItemString(o, "__name__") != nullptr &&
               PyDict_GetItemString(o, "__builtins__") != nullptr;
    };
    // `tracked`: the retainers of what was allocated while tracking (a test's leak), by the
    // bytes of it each one keeps: not the largest retainers of a heap that was mostly there
    // before (a suite's session fixture, the import system's caches).
    std::vector<std::uint64_t> tracked_retained;
    if (tracked && with_sites) tracked_retained = snapshot.retained_tracked();
    const std::span<const std::uint64_t> retained =
        tracked_retained.empty() ? std::span<const std::uint64_t>(snapshot.tree().retained)
                                 : std::span<const std::uint64_t>(tracked_retained);
    const std::vector<NodeId> chosen = memslim::engine::choose_retainers(
        snapshot.tree(), retained, top, candidate, module_dict);
    nb::list retainers;
    const memslim::engine::ShortestPaths paths(snapshot.graph(), 0);
    for (NodeId node : chosen) {
        // Items of a container (how a cache grows from one census to the next).
        auto* o = reinterpret_cast<PyObject*>(snapshot.address(node));
        nb::object length = nb::none();
        if (PyDict_Check(o)) {
            length = nb::int_(PyDict_GET_SIZE(o));
        } else if (PyList_Check(o)) {
            length = nb::int_(PyList_GET_SIZE(o));
        } else if (PyAnySet_Check(o)) {
            length = nb::int_(PySet_GET_SIZE(o));
        }
        retainers.append(nb::make_tuple(
            nb::borrow(reinterpret_cast<PyObject*>(snapshot.type(node))), snapshot.size(node),
            retained[node], labelled_path(snapshot, paths, node), length));
    }
    out["retainers"] = retainers;
    return out;
}

// Retained size of `obj` and its why-alive path, from a fresh snapshot.
nb::dict why_alive(nb::handle obj) {
    GcPause gc_paused;
    memslim::cpython::HeapSnapshot snapshot;
    if (!snapshot.take(obj.ptr())) throw nb::python_error();
    const auto node = snapshot.node_of(obj.ptr());
    nb::dict out;
    if (node == memslim::engine::kNoNode) {
        out["retained"] = nb::none();
        out["path"] = nb::list();
        return out;
    }
    out["size"] = snapshot.size(node);
    out["retained"] = snapshot.retained(node);
    out["path"] =
        labelled_path(snapshot, memslim::engine::ShortestPaths(snapshot.graph(), 0), node);
    return out;
}

std::string qualified_name(PyTypeObject* tp) {
    nb::handle type(reinterpret_cast<PyObject*>(tp));
    std::string module =
        nb::hasattr(type, "__module__") ? nb::str(type.attr("__module__")).c_str() : "";
    std::string name = nb::str(type.attr("__qualname__")).c_str();
    return module.empty() || module == "builtins" ? name : module + "." + name;
}

// The distinct objects among `count` object pointers at `address` (an object array's buffer,
// which the caller keeps alive), by address: (the position where each first appears, in that
// order, as int64 bytes; the sys.getsizeof bytes of those held by these cells alone; of those
// held elsewhere too). An object is held by the cells alone when its reference count is at
// most its cells' count times `copies` (2 when the cells are a copy of the column's own).
// One pass in C: the Python one (pandas.factorize of the addresses, then sys.getsizeof and
// sys.getrefcount through np.frompyfunc) took 95-106 ms a column of 300,000 distinct strings.
nb::tuple distinct_objects(std::uintptr_t address, std::size_t count, std::uint64_t copies) {
    auto* const* cells = reinterpret_cast<PyObject* const*>(address);
    std::vector<std::uintptr_t> seen;
    std::vector<std::int64_t> first;
    std::vector<std::uint64_t> cells_of;
    memslim::engine::AddressIndex index(std::min<std::size_t>(count, 1 << 16));
    for (std::size_t i = 0; i < count; ++i) {
        const auto [id, added] = index.find_or_add(reinterpret_cast<std::uintptr_t>(cells[i]), seen);
        if (added) {
            first.push_back(static_cast<std::int64_t>(i));
            cells_of.push_back(0);
        }
        ++cells_of[id];
    }
    std::uint64_t alone = 0;
    std::uint64_t shared = 0;
    for (std::size_t id = 0; id < seen.size(); ++id) {
        auto* o = reinterpret_cast<PyObject*>(seen[id]);
        const Py_ssize_t size = memslim::cpython::getsizeof(o);  // may run a __sizeof__
        if (size < 0) throw nb::python_error();
        const auto references = static_cast<std::uint64_t>(Py_REFCNT(o));
        (references <= cells_of[id] * copies ? alone : shared) += static_cast<std::uint64_t>(size);
    }
    return nb::make_tuple(
        nb::bytes(reinterpret_cast<const char*>(first.data()), first.size() * sizeof(first[0])),
        alone, shared);
}

// Takes a snapshot and writes it to `path` (see engine/snapshot_file.h). Returns the number of
// objects written.
std::size_t save_heap_snapshot(const std::string& path) {
    GcPause gc_paused;
    memslim::cpython::HeapSnapshot snapshot;
    if (!snapshot.take()) throw nb::python_error();
    memslim::engine::SnapshotData data;
    std::unordered_map<PyTypeObject*, std::uint32_t> type_index;
    const std::size_t n = snapshot.objects() + 1;
    data.node_type.reserve(n);
    data.node_size.reserve(n);
    data.node_type.push_back(memslim::engine::SnapshotData::kNoType);
    data.node_size.push_back(0);
    for (memslim::engine::NodeId node = 1; node < n; ++node) {
        PyTypeObject* tp = snapshot.type(node);
        auto [it, inserted] =
            type_index.try_emplace(tp, static_cast<std::uint32_t>(data.type_names.size()));
        if (inserted) data.type_names.push_back(qualified_name(tp));
        data.node_type.push_back(it->second);
        data.node_size.push_back(snapshot.size(node));
    }
    data.edge_begin.reserve(n + 1);
    data.edge_begin.push_back(0);
    for (memslim::engine::NodeId node = 0; node < n; ++node) {
        for (auto target : snapshot.graph().successors(node)) data.edge_target.push_back(target);
        data.edge_begin.push_back(static_cast<std::uint32_t>(data.edge_target.size()));
    }
    const std::string bytes = memslim::engine::write_snapshot(data);
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    if (!file) throw nb::value_error(("cannot write " + path).c_str());
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!file) throw nb::value_error(("cannot write " + path).c_str());
    return n - 1;
}

// Reads a saved snapshot: census by type name, and retained bytes summed per type over the
// objects whose immediate dominator is the virtual root or an object of another type (the
// "tops" of each type's retained subtrees), for a report without the original process.
nb::dict load_heap_snapshot(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw nb::value_error(("cannot read " + path).c_str());
    std::stringstream buffer;
    buffer << file.rdbuf();
    const std::string bytes = buffer.str();
    memslim::engine::SnapshotData data;
    std::string error;
    if (!memslim::engine::read_snapshot(bytes, data, error)) throw nb::value_error(error.c_str());
    const std::size_t n = data.node_type.size();
    std::vector<memslim::engine::NodeId> from, to;
    for (std::size_t node = 0; node < n; ++node) {
        for (std::uint32_t e = data.edge_begin[node]; e < data.edge_begin[node + 1]; ++e) {
            from.push_back(static_cast<memslim::engine::NodeId>(node));
            to.push_back(data.edge_target[e]);
        }
    }
    memslim::engine::HeapGraph graph(n, std::move(from), std::move(to));
    memslim::engine::Progress progress("reading " + path);
    progress.step("computing dominators");
    const auto tree = memslim::engine::dominators(graph, 0, data.node_size);
    const auto totals =
        memslim::engine::type_totals(data.node_type, data.node_size, tree, data.type_names.size(),
                                     memslim::engine::SnapshotData::kNoType);
    nb::list rows;
    for (std::size_t t = 0; t < totals.size(); ++t) {
        const auto& row = totals[t];
        if (row.count == 0) continue;
        rows.append(
            nb::make_tuple(data.type_names[t], row.count, row.bytes, row.retained, row.largest));
    }
    nb::dict out;
    out["objects"] = n - 1;
    out["types"] = rows;
    return out;
}

Py_ssize_t checked(Py_ssize_t size) {
    if (size < 0) throw nb::python_error();
    return size;
}

}  // namespace

NB_MODULE(_core, m) {
    m.doc() = "memslim's C++ engine. Use the functions of the memslim package instead.";

    m.attr("ENTER_TYPES") = static_cast<unsigned>(memslim::cpython::kEnterTypes);
    m.attr("ENTER_MODULES") = static_cast<unsigned>(memslim::cpython::kEnterModules);
    m.attr("ENTER_FUNCTIONS") = static_cast<unsigned>(memslim::cpython::kEnterFunctions);
    m.attr("ENTER_CODE") = static_cast<unsigned>(memslim::cpython::kEnterCode);
    m.attr("SizeofError") = nb::borrow(memslim::cpython::sizeof_error_type());

    m.def("deep_sizeof", &deep_sizeof, "obj"_a.none(), "enter"_a = 0u, "by_type"_a = false,
          "Deep size of obj in bytes; with by_type, (bytes, objects, [(type, count, bytes)]).");
    m.def(
        "true_sizeof",
        [](nb::handle obj) { return checked(memslim::cpython::true_sizeof(obj.ptr())); },
        "obj"_a.none(), "Bytes allocated for obj alone, including what sys.getsizeof leaves out.");
    m.def("start_tracking", &start_tracking, "mode"_a = "exact", "sample_interval"_a = 262144.0,
          "seed"_a = 0, "timeline_interval"_a = 0.01, "stacks_above_caller"_a = false,
          "full_import_stacks"_a = false,
          "Start charging every allocation to its Python stack (hooks on PyMem's domains).");
    m.def("stop_tracking", &memslim::cpython::stop_tracking, "Remove the allocator hooks.");
    m.def("is_tracking", &memslim::cpython::is_tracking);
    m.def("in_forked_child", &memslim::cpython::in_forked_child,
          "True in a child forked while tracking (its records are not the parent's).");
    m.def(
        "line_ranges",
        [](nb::handle code) {
            if (!PyCode_Check(code.ptr())) throw nb::type_error("a code object is required");
            nb::list out;
            for (const auto& range :
                 memslim::cpython::line_ranges(reinterpret_cast<PyCodeObject*>(code.ptr()))) {
                out.append(nb::make_tuple(range.start, range.end,
                                          range.line < 0 ? nb::none() : nb::int_(range.line)));
            }
            return out;
        },
        "code"_a,
        "The code's (start, end, line) ranges as the report reads them: co_lines() with "
        "consecutive ranges of one line merged.");
    m.def("in_census_child", &memslim::cpython::in_census_child,
          "True in a census child (a fork that walks a copy of the heap).");
    m.def(
        "restart_in_forked_child",
        [] {
            if (!memslim::cpython::restart_in_forked_child()) throw nb::python_error();
        },
        "In a child forked while tracking: track again, from nothing, for the child's own "
        "report (same mode and options; the hooks stay installed).");
    m.def("relay_signal", &memslim::engine::relay_signal, "signum"_a,
          "Also wake wait_for_relayed_signal() when signum comes (its handler still runs); "
          "False when it has no handler (see engine/signal_relay.h).");
    m.def(
        "wait_for_relayed_signal",
        [](double grace_seconds) {
            int signum = 0;
            {
                nb::gil_scoped_release released;
                signum = memslim::engine::wait_for_relayed_signal();
                if (signum != 0) {
                    memslim::engine::die_of_signal_unless_spared(signum, grace_seconds);
                }
            }
            if (signum != 0) memslim::engine::spare_from_signal();  // the GIL is ours again
            return signum;
        },
        "grace_seconds"_a,
        "Block (without the GIL) until the relayed signal comes; its number, 0 if none is. "
        "If the GIL cannot be had again within grace_seconds (another thread holds it in one "
        "long C call), the process ends by the signal there (die_of_signal).");
    m.def("spare_from_signal", &memslim::engine::spare_from_signal,
          "memslim's code runs after the relayed signal: no death after its grace.");
    m.def(
        "die_of_signal",
        [](int signum) {
            nb::gil_scoped_release released;
            memslim::engine::die_of_signal(signum);
        },
        "signum"_a, "End the process by signum, as its default action would. Never returns.");
    m.def("traced_bytes", &memslim::cpython::traced_bytes,
          "Bytes live now (estimated in sample mode).");
    m.def("peak_traced_bytes", &memslim::cpython::peak_traced_bytes,
          "High-water mark of traced bytes.");
    m.def("visible_traced_bytes", &memslim::cpython::visible_traced_bytes,
          "Bytes live now less native memory's: what a heap census can see.");
    m.def(
        "census_after_return",
        [](const nb::list& codes) {
            std::vector<PyObject*> raw;
            for (nb::handle code : codes) {
                if (!PyCode_Check(code.ptr())) throw nb::type_error("code objects expected");
                raw.push_back(code.ptr());
            }
            memslim::cpython::census_after_return(raw);
        },
        "codes"_a,
        "Take one census as soon as one of these code objects (the program's frames on the "
        "stack, innermost first) allocates again: after a census inside a library's call.");
    m.def("own_memory_ran_out_at", &memslim::cpython::own_memory_ran_out_at,
          "Seconds into the run at which memslim's own tables could not grow and new blocks "
          "stopped being recorded, or -1.0 when that never happened.");
    m.def(
        "census_raised_for_the_program",
        [](nb::handle exception) {
            memslim::cpython::census_raised_for_the_program(exception.ptr());
        },
        "exception"_a,
        "The census callback is about to raise `exception`, raised by the program's signal "
        "handler while it ran: the program's, to reach it though an Exception.");
    m.def("census_is_follow_up", &memslim::cpython::census_is_follow_up,
          "Whether the census running now is one census_after_return asked for.");
    m.def("tracking_result", &tracking_result, "own_prefix"_a, "function"_a = "",
          "top_stacks"_a = 64, "top_lines"_a = 0,
          "Totals, lines, top stacks, one function's lines (file + NUL + qualname; empty: the "
          "heaviest) and the timeline recorded so far; frames in files under own_prefix are "
          "memslim's own. top_lines: only that many lines (the most at the peak), and only the "
          "frames referred to; 0: every line and frame.");
    m.def("site_rows", &site_rows, "Every site that allocated, with its bytes.");
    m.def("install_numpy_handler", &memslim::cpython::install_numpy_handler,
          "Record NumPy's array buffers, if numpy is imported (see cpython/numpy_handler.h); "
          "a one-line reason when it cannot be done, else ''.");
    m.def("uninstall_numpy_handler", &memslim::cpython::uninstall_numpy_handler,
          "Stop recording NumPy's array buffers.");
    m.def("numpy_handler_installed", &memslim::cpython::numpy_handler_installed,
          "Whether NumPy's array buffers are being recorded.");
    m.def("install_native_hooks", &memslim::cpython::install_native_hooks,
          "allocations"_a = true,
          "Record the C allocator's blocks (see cpython/native_hooks.h); a one-line reason when "
          "it cannot be done, else ''. allocations=False: only count the threads in native "
          "code without the GIL (native_threads_without_gil), for --python-only.");
    m.def("uninstall_native_hooks", &memslim::cpython::uninstall_native_hooks,
          "Stop recording the C allocator's blocks.");
    m.def("reserved_map_bytes", &memslim::cpython::reserved_map_bytes,
          "Address space native code reserved while tracking (PROT_NONE or MAP_NORESERVE).");
    m.def("native_hooks_installed", &memslim::cpython::native_hooks_installed,
          "Whether the C allocator's blocks are being recorded.");
    m.def("native_threads_without_gil", &memslim::cpython::native_threads_without_gil,
          "Threads now in a native module's code without the GIL (not the standard library's): "
          "a census fork now could leave them waiting forever (see cpython/native_hooks.h).");
    m.def(
        "finalize_other_threads",
        [](nb::handle before) {
            // `before` (the atexit handlers) and the mark with no bytecode between them: a
            // return to Python code could let another thread run once it has returned.
            const bool settled = memslim::cpython::settle_censuses(10.0);
            bool failed = false;
            if (!before.is_none()) {
                PyObject* result = PyObject_CallNoArgs(before.ptr());
                failed = result == nullptr;
                Py_XDECREF(result);
            }
            const int others = settled ? memslim_finalize_other_threads() : 0;
            if (failed) throw nb::python_error();
            return others;
        },
        "before"_a = nb::none(),
        "Stop censuses (settle_censuses), call before() (when given); then, with any other "
        "thread state alive, mark the runtime as finalizing, as the interpreter does after the "
        "atexit handlers: each other thread then exits when it next takes the GIL. Returns how "
        "many there were (0 when a census still ran: no mark; see cpython/finalizing.h).");
    m.def(
        "proc_self_status",
        []() {
            // Read with the GIL held throughout (Python's own reads release it at each call):
            // a census reads it right before its fork, and each release let the program's other
            // threads run a switch interval, changing the heap the census was asked to see.
            std::string text;
            if (std::FILE* f = std::fopen("/proc/self/status", "r")) {
                char chunk[4096];
                std::size_t got = 0;
                while ((got = std::fread(chunk, 1, sizeof chunk, f)) > 0) text.append(chunk, got);
                std::fclose(f);
            }
            return nb::bytes(text.data(), text.size());
        },
        "/proc/self/status, read without releasing the GIL (empty where there is none).");
    m.def(
        "hold_timeline_lock",
        [](double seconds, int ready_fd) {
            nb::gil_scoped_release released;
            memslim::cpython::hold_timeline_lock(seconds, ready_fd);
        },
        "seconds"_a, "ready_fd"_a,
        "For tests: hold the timeline's lock for `seconds`, writing a byte to `ready_fd` once "
        "it is held.");
    m.def(
        "census_fork",
        []() {
            const long pid = memslim::cpython::census_fork();
            if (pid < 0) {
                PyErr_SetFromErrno(PyExc_OSError);
                throw nb::python_error();
            }
            return pid;
        },
        "Fork a census child (0 in the child, its pid here); see cpython/tracker.h.");
    m.def(
        "set_census_child_hooks",
        [](nb::handle hooks, Py_ssize_t keep) {
            memslim::cpython::set_census_child_hooks(hooks.is_none() ? nullptr : hooks.ptr(),
                                                     keep);
        },
        "hooks"_a.none(), "keep"_a,
        "The interpreter's list of after_in_child fork hooks, and where the program's start: a "
        "census child drops those (None: every hook runs).");
    m.def(
        "set_census_fork_hooks",
        [](nb::handle before, nb::handle after_in_parent) {
            memslim::cpython::set_census_fork_hooks(
                before.is_none() ? nullptr : before.ptr(),
                after_in_parent.is_none() ? nullptr : after_in_parent.ptr());
        },
        "before"_a.none(), "after_in_parent"_a.none(),
        "The interpreter's lists of before and after_in_parent fork hooks, set aside around "
        "each census fork (3.13+ runs them there; None: not known).");
    m.def("site_bytes_at_peak", &memslim::cpython::site_bytes_at_peak, "site"_a,
          "The bytes a site held at the peak in the domains a census sees (Python, NumPy).");
    m.def("site_stack", &site_stack, "site"_a,
          "The frames (file, function, line) of a site, innermost first.");
    m.def("site_locations", &site_locations, "site"_a,
          "Where in its line each frame of a site was: (line, column, end line, end column), "
          "columns in UTF-8 bytes (-1: not known), innermost first.");
    m.def(
        "gc_object_ids_in_place",
        [] {
            std::vector<PyObject*> objects;
            const int gc_was_enabled = PyGC_Disable();
            const bool found = memslim::cpython::gc_objects_in_place(&objects);
            nb::list ids;
            for (PyObject* o : objects) ids.append(reinterpret_cast<std::uintptr_t>(o));
            if (gc_was_enabled) PyGC_Enable();
            return found ? nb::object(ids) : nb::none();
        },
        "The ids of the objects the GC tracks, read from its lists in place (None where they "
        "cannot be): what a census child walks.");
    m.def("census_before_collection", &memslim::cpython::census_before_collection, "generation"_a,
          "A GC collection starts: census now if one is due, or at the peak before a full one "
          "(see cpython/tracker.h).");
    m.def("untrack_this_thread", &memslim::cpython::untrack_this_thread,
          "Nothing the calling thread allocates from now on is recorded (memslim's own threads).");
    m.def("set_thread_tracked", &memslim::cpython::set_thread_tracked, "tracked"_a,
          "Whether the calling thread's allocations are recorded from now on; returns what it "
          "was.");
    m.def("credit_recursion", &memslim::cpython::credit_recursion, "levels"_a,
          "Adds levels to the calling thread's Python recursion budget (negative: takes them "
          "back); sys.getrecursionlimit() does not change.");
    m.def(
        "exec_as_script",
        [](nb::handle code, nb::dict globals) {
            if (!PyCode_Check(code.ptr())) throw nb::type_error("code must be a code object");
            PyObject* result = memslim::cpython::eval_as_first_frame(code.ptr(), globals.ptr());
            if (result == nullptr) throw nb::python_error();
            return nb::steal(result);
        },
        "code"_a, "globals"_a,
        "exec(code, globals) as python runs a script: with no frame of the caller's below "
        "the code's (inspect.stack(), warnings' stacklevel, faulthandler, pdb).");
    m.def(
        "write_unraisable",
        [](nb::handle exception, nb::handle where) {
            // As the interpreter reports an exception it cannot raise (sys.unraisablehook:
            // "Exception ignored in: <where>" and the traceback, by default).
            PyErr_Restore(Py_NewRef(reinterpret_cast<PyObject*>(Py_TYPE(exception.ptr()))),
                          Py_NewRef(exception.ptr()), PyException_GetTraceback(exception.ptr()));
            PyErr_WriteUnraisable(where.ptr());
        },
        "exception"_a, "where"_a,
        "Report `exception` through sys.unraisablehook, as ignored in `where`, as the "
        "interpreter does.");
    m.def("recursion_depth", &memslim::cpython::recursion_depth,
          "The calling thread's recursion depth, as the interpreter counts it against "
          "sys.getrecursionlimit().");
    m.def("set_gc_collecting", &memslim::cpython::set_gc_collecting, "collecting"_a,
          "Blocks freed from now until set_gc_collecting(False) were freed by the cyclic GC.");
    // The function in gc.callbacks while tracking (memslim._tracking.watch_gc). A C function,
    // not Python's: a program's own sys.settrace function saw a Python callback's every call
    // as the program's.
    m.def(
        "gc_callback",
        [](nb::str phase, nb::dict info) {
            const bool start = std::string_view(phase.c_str()) == "start";
            if (start) {
                // A safe point in any thread: a census due while the main thread waits runs
                // here, and the garbage a full collection frees may be part of the peak.
                int generation = 0;
                if (info.contains("generation")) generation = nb::cast<int>(info["generation"]);
                memslim::cpython::census_before_collection(generation);
            }
            memslim::cpython::set_gc_collecting(start);
        },
        "phase"_a, "info"_a, "gc.callbacks' callback: census_before_collection, set_gc_collecting.");
    m.def(
        "live_bytes_by_domain",
        [] {
            const auto live = memslim::cpython::live_bytes_by_domain();
            nb::dict out;
            for (std::size_t d = 0; d < memslim::cpython::kDomains; ++d) {
                out[memslim::cpython::kDomainNames[d]] = live[d];
            }
            return out;
        },
        "Traced bytes live now, per domain.");
    m.def("untouched_bytes", &memslim::cpython::untouched_bytes,
          "Bytes of live blocks of 64 KiB or more that are not resident: allocated, never "
          "written (estimated from the samples in sample mode).");
    m.def(
        "bookkeeping_bytes",
        [] {
            const auto result = memslim::cpython::collect_result(false);
            return result.bookkeeping_bytes - result.released_bytes;
        },
        "memslim's own memory for what it recorded.");
    m.def(
        "allocator_stats",
        [] {
            const memslim::cpython::AllocatorStats stats = memslim::cpython::allocator_stats();
            nb::dict out;
            if (stats.pymalloc_known) {
                out["pymalloc_arena_bytes"] = stats.pymalloc_arena_bytes;
                out["pymalloc_block_bytes"] = stats.pymalloc_block_bytes;
            }
            if (stats.malloc_known) {
                out["malloc_free_bytes"] = stats.malloc_free_bytes;
            }
            return out;
        },
        "What pymalloc's arenas and the C allocator hold now (only the figures known here).");
    m.def("release_blocks", &memslim::cpython::release_blocks,
          "After the run: free the live-block map (no object's site is known after it).");
    m.def("release_stack_index", &memslim::cpython::release_stack_index,
          "Free the index tracking_result built (the next call builds it again).");
    m.def("reset_tracking", &memslim::cpython::reset_tracker, "Forget what was recorded.");
    m.def(
        "set_census",
        [](nb::handle callback, double margin, std::int64_t first_bytes, double budget_share,
           double budget_allowance) {
            if (!(margin > 0.0)) throw nb::value_error("margin must be > 0");
            if (!(budget_share >= 0.0) || !(budget_allowance >= 0.0)) {
                throw nb::value_error("the census budget must be >= 0");
            }
            memslim::cpython::set_census(callback.is_none() ? nullptr : callback.ptr(), margin,
                                         first_bytes, {budget_share, budget_allowance});
        },
        "callback"_a.none(), "margin"_a = 0.1, "first_bytes"_a = 4 << 20,
        "budget_share"_a = 0.2, "budget_allowance"_a = 2.0,
        "Call callback (at a safe point, untracked) whenever traced bytes pass a new high-water "
        "mark by the margin (a callback returning False took none: it is asked again); None "
        "turns it off. The margin doubles whenever censuses have held "
        "the program up for longer than budget_share of the run plus budget_allowance seconds.");
    m.def("heap_snapshot", &heap_snapshot, "top"_a = 10, "advice"_a = false, "tracked"_a = false,
          "Census by type and the top retainers (with why-alive paths) of the whole heap; "
          "tracked (while tracking): the retainers of what was allocated while tracking, by "
          "the bytes of it each keeps.");
    m.def("distinct_objects", &distinct_objects, "address"_a, "count"_a, "copies"_a,
          "(first positions as int64 bytes, bytes held alone, bytes shared) of the distinct "
          "objects among count object pointers at address (memslim._frames).");
    m.def("save_heap_snapshot", &save_heap_snapshot, "path"_a,
          "Walk the heap and write it to path (versioned, checksummed); returns the object count.");
    m.def("load_heap_snapshot", &load_heap_snapshot, "path"_a,
          "Read a saved heap snapshot: per type (name, count, bytes, retained, largest retained).");
    m.def("why_alive", &why_alive, "obj"_a.none(),
          "The retained size of obj and a shortest labelled path to it from a root.");
    m.def(
        "getsizeof", [](nb::handle obj) { return checked(memslim::cpython::getsizeof(obj.ptr())); },
        "obj"_a.none(), "Exactly sys.getsizeof(obj) for the running interpreter.");
}
