// referents.h — the objects an object owns: what the cyclic GC sees (tp_traverse) and what
// tp_traverse leaves out because it cannot form a cycle, though it is owned all the same.
#pragma once

#include <Python.h>

namespace memslim::cpython {

// Calls visit(child, arg) for each object `o` owns: tp_traverse's referents, a materialised
// managed instance dict, and the str keys of combined dicts (dict_traverse skips them; a split
// table's keys belong to the class), a NumPy array's base and an object array's items (arrays
// are not GC containers). Runs no Python code and writes to no object. Returns the first
// non-zero value visit returned, or 0.
int visit_owned(PyObject* o, visitproc visit, void* arg);

// Whether `o`, not a GC container, owns objects all the same: a NumPy array with a base or
// with object items (it must not be folded into a referrer as a leaf).
bool array_with_referents(PyObject* o);

// Where `child` is held by `o` if `o` is a NumPy array: its base (`*base` set, nullptr
// returned), or an item, whose index is returned (an int, or a str "3, 4" for more dimensions).
// nullptr otherwise. Needs the GIL (makes the index object).
PyObject* array_step(PyObject* o, PyObject* child, bool* base);

}  // namespace memslim::cpython
