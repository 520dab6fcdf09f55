// bindings.cpp — exposes the C++ core to Python as memslim._core (the only nanobind user).
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include "cpython/deep_size.h"

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
    m.def(
        "getsizeof",
        [](nb::handle obj) { return checked(memslim::cpython::getsizeof(obj.ptr())); }, "obj"_a.none(),
        "Exactly sys.getsizeof(obj) for the running interpreter.");
}
