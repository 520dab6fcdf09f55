// referents.cpp — owned referents of an object (see referents.h).
#include "cpython/referents.h"

#include "cpython/object_layout.h"

#include <algorithm>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace memslim::cpython {

namespace {

// The first fields of NumPy's array and dtype structs, the same in NumPy 1.x and 2.x
// (ndarraytypes.h: PyArrayObject_fields, PyArray_Descr). Read, never written: a census child
// must not write to the program's objects.
struct ArrayFields {
    PyObject_HEAD
    char* data;
    int nd;
    Py_ssize_t* dimensions;
    Py_ssize_t* strides;
    PyObject* base;
    PyObject* descr;
    int flags;
};
struct DescrFields {
    PyObject_HEAD
    PyTypeObject* typeobj;
    char kind;
    char type;
    char byteorder;
    char flags;
    int type_num;
};
constexpr int kNpyObject = 17;          // NPY_OBJECT
constexpr int kCContiguous = 0x1;       // NPY_ARRAY_C_CONTIGUOUS
constexpr int kContiguous = kCContiguous | 0x2;  // or NPY_ARRAY_F_CONTIGUOUS
constexpr int kOwnData = 0x4;           // NPY_ARRAY_OWNDATA
constexpr int kMaxDims = 64;            // NPY_MAXDIMS is 32 (1.x) or 64 (2.x)

// numpy.ndarray, once one was seen (a static type: never freed, so the pointer stays true);
// until then a candidate's type names are compared.
PyTypeObject* g_ndarray = nullptr;

bool is_numpy_array(PyTypeObject* tp) {
    for (PyTypeObject* t = tp; t != nullptr; t = t->tp_base) {
        if (t == g_ndarray) return true;
        if (g_ndarray == nullptr && std::strcmp(t->tp_name, "numpy.ndarray") == 0) {
            g_ndarray = t;
            return true;
        }
    }
    return false;
}

// Whether the array's dtype is `object` (its buffer holds object pointers).
bool holds_objects(const ArrayFields* array) {
    const auto* descr = reinterpret_cast<const DescrFields*>(array->descr);
    return descr != nullptr && descr->type_num == kNpyObject && descr->kind == 'O';
}

// The items of an object array that owns its buffer (see visit_array), or an empty span.
std::span<PyObject* const> owned_items(const ArrayFields* array) {
    if (!holds_objects(array) || (array->flags & kOwnData) == 0 ||
        (array->flags & kContiguous) == 0 || array->nd < 0 || array->nd > kMaxDims ||
        array->data == nullptr) {
        return {};
    }
    Py_ssize_t items = 1;
    for (int d = 0; d < array->nd; ++d) items *= array->dimensions[d];
    return {reinterpret_cast<PyObject* const*>(array->data), static_cast<std::size_t>(items)};
}

// An array's base (a view's owner) and, for an object array that owns its buffer, its items:
// NumPy arrays are not GC containers, so tp_traverse reports neither. (A view's items are its
// base's.) Items may be NULL: NumPy reads those as None.
int visit_array(PyObject* o, visitproc visit, void* arg) {
    const auto* array = reinterpret_cast<const ArrayFields*>(o);
    if (array->base != nullptr) {
        if (int stop = visit(array->base, arg); stop != 0) return stop;
    }
    for (PyObject* item : owned_items(array)) {
        if (item == nullptr) continue;
        if (int stop = visit(item, arg); stop != 0) return stop;
    }
    return 0;
}

// Not a GC container, nor a str, int, float or bytes: may be a NumPy array.
bool may_be_array(PyObject* o, PyTypeObject* tp) {
    return !PyObject_IS_GC(o) &&
           !PyType_FastSubclass(tp, Py_TPFLAGS_UNICODE_SUBCLASS | Py_TPFLAGS_LONG_SUBCLASS |
                                        Py_TPFLAGS_BYTES_SUBCLASS) &&
           tp != &PyFloat_Type && is_numpy_array(tp);
}

}  // namespace

bool array_with_referents(PyObject* o) {
    if (!may_be_array(o, Py_TYPE(o))) return false;
    const auto* array = reinterpret_cast<const ArrayFields*>(o);
    return array->base != nullptr || holds_objects(array);
}

PyObject* array_step(PyObject* o, PyObject* child, bool* base) {
    *base = false;
    if (!may_be_array(o, Py_TYPE(o))) return nullptr;
    const auto* array = reinterpret_cast<const ArrayFields*>(o);
    if (array->base == child) {
        *base = true;
        return nullptr;
    }
    const std::span<PyObject* const> items = owned_items(array);
    const auto found = std::find(items.begin(), items.end(), child);
    if (found == items.end()) return nullptr;
    // The flat position, as indices: C order, or Fortran order for an array that is only that.
    Py_ssize_t flat = found - items.begin();
    const bool fortran = (array->flags & kCContiguous) == 0;
    std::vector<Py_ssize_t> index(static_cast<std::size_t>(array->nd));
    for (int k = 0; k < array->nd; ++k) {
        const int d = fortran ? k : array->nd - 1 - k;
        const Py_ssize_t extent = array->dimensions[d];
        index[static_cast<std::size_t>(d)] = extent > 0 ? flat % extent : 0;
        if (extent > 0) flat /= extent;
    }
    if (index.size() == 1) return PyLong_FromSsize_t(index[0]);
    std::string text;
    for (std::size_t d = 0; d < index.size(); ++d) {
        if (d > 0) text += ", ";
        text += std::to_string(index[d]);
    }
    return PyUnicode_FromStringAndSize(text.data(), static_cast<Py_ssize_t>(text.size()));
}

int visit_owned(PyObject* o, visitproc visit, void* arg) {
    PyTypeObject* tp = Py_TYPE(o);
    // PyObject_IS_GC, not the type flag: static types are not GC objects and type_traverse
    // asserts on them.
    if (tp->tp_traverse != nullptr && PyObject_IS_GC(o)) {
        if (int stop = tp->tp_traverse(o, visit, arg); stop != 0) return stop;
    }
    if (PyObject* dict = managed_dict(o); dict != nullptr) {
        if (int stop = visit(dict, arg); stop != 0) return stop;
    }
    if (PyDict_Check(o) && reinterpret_cast<PyDictObject*>(o)->ma_values == nullptr) {
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (PyDict_Next(o, &pos, &key, &value)) {
            if (PyUnicode_Check(key)) {
                if (int stop = visit(key, arg); stop != 0) return stop;
            }
        }
    }
    if (may_be_array(o, tp)) return visit_array(o, visit, arg);
    return 0;
}

}  // namespace memslim::cpython
