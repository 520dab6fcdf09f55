// referents.h — the objects an object owns: what the cyclic GC sees (tp_traverse) and what
// tp_traverse leaves out because it cannot form a cycle, though it is owned all the same.
#pragma once

#include <Python.h>

namespace memslim::cpython {

// Calls visit(child, arg) for each object `o` owns: tp_traverse's referents, a materialised
// managed instance dict, and the str keys of combined dicts (dict_traverse skips them; a split
// table's keys belong to the class). Runs no Python code. Returns the first non-zero value
// visit returned, or 0.
int visit_owned(PyObject* o, visitproc visit, void* arg);

}  // namespace memslim::cpython
