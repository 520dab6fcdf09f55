// referents.cpp — owned referents of an object (see referents.h).
#include "cpython/referents.h"

#include "cpython/object_layout.h"

namespace memslim::cpython {

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
    return 0;
}

}  // namespace memslim::cpython
