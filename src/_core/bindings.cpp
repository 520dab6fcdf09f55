// bindings.cpp — exposes the C++ core to Python as memslim._core (the only nanobind user).
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include <map>
#include <utility>

#include "cpython/deep_size.h"
#include "cpython/frames.h"
#include "cpython/tracker.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

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
                    double timeline_interval, bool stacks_above_caller) {
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
    if (!memslim::cpython::start_tracking(options)) throw nb::python_error();
}

// What was recorded, as plain Python data: frames are resolved to (file, function, line) once
// each and referred to by index from the sites.
nb::dict tracking_result() {
    using memslim::engine::Frame;
    const memslim::cpython::TrackResult result = memslim::cpython::collect_result();
    nb::dict out;
    out["mode"] = result.mode == memslim::cpython::TrackMode::kExact ? "exact" : "sample";
    out["sample_interval_bytes"] = result.sample_interval_bytes;
    out["current_bytes"] = result.current_bytes;
    out["peak_bytes"] = result.peak_bytes;
    out["peak_seconds"] = result.peak_seconds;
    out["elapsed_seconds"] = result.elapsed_seconds;
    out["peak_rss_bytes"] = result.peak_rss_bytes;
    out["bookkeeping_bytes"] = result.bookkeeping_bytes;

    std::map<std::pair<std::uintptr_t, std::uint32_t>, std::size_t> frame_index;
    nb::list frames;
    nb::list sites;
    for (const auto& stats : result.sites) {
        nb::list stack;
        for (const Frame& frame : memslim::cpython::site_frames(stats.site)) {
            auto key = std::make_pair(frame.code, frame.instruction);
            auto [it, inserted] = frame_index.try_emplace(key, frame_index.size());
            if (inserted) {
                auto* code = reinterpret_cast<PyCodeObject*>(frame.code);
                frames.append(nb::make_tuple(nb::borrow(code->co_filename),
                                             nb::borrow(code->co_qualname),
                                             memslim::cpython::line_of(code, frame.instruction),
                                             frame.code));
            }
            stack.append(it->second);
        }
        sites.append(nb::make_tuple(stats.bytes_at_peak, stats.bytes_live, stats.allocated_bytes,
                                    stats.allocations, nb::tuple(stack)));
    }
    out["frames"] = frames;
    out["sites"] = sites;
    nb::list timeline;
    for (const auto& point : result.timeline) {
        timeline.append(nb::make_tuple(point.seconds, point.traced_bytes, point.rss_bytes));
    }
    out["timeline"] = timeline;
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
          "Start charging every allocation to its Python stack (hooks on PyMem's domains).");
    m.def("stop_tracking", &memslim::cpython::stop_tracking, "Remove the allocator hooks.");
    m.def("is_tracking", &memslim::cpython::is_tracking);
    m.def("in_forked_child", &memslim::cpython::in_forked_child,
          "True in a child forked while tracking (its records are not the parent's).");
    m.def("traced_bytes", &memslim::cpython::traced_bytes, "Bytes live now (estimated in sample mode).");
    m.def("peak_traced_bytes", &memslim::cpython::peak_traced_bytes, "High-water mark of traced bytes.");
    m.def("tracking_result", &tracking_result, "Totals, sites, frames and timeline recorded so far.");
    m.def("reset_tracking", &memslim::cpython::reset_tracker, "Forget what was recorded.");
    m.def(
        "getsizeof",
        [](nb::handle obj) { return checked(memslim::cpython::getsizeof(obj.ptr())); }, "obj"_a.none(),
        "Exactly sys.getsizeof(obj) for the running interpreter.");
}
