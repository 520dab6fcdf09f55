// deep_size.h — the true size of an object and of everything it reaches (memslim.sizeof).
#pragma once

#include <Python.h>

#include <cstddef>
#include <vector>

namespace memslim::cpython {

// Kinds of shared objects a deep size stops at unless asked to enter them. The root object is
// always counted and entered, whatever its kind.
enum Enter : unsigned {
    kEnterNothing = 0,
    kEnterTypes = 1u << 0,      // classes and other type objects
    kEnterModules = 1u << 1,    // module objects
    kEnterFunctions = 1u << 2,  // Python and built-in functions, bound methods, descriptors
    kEnterCode = 1u << 3,       // code objects
};

struct TypeBytes {
    PyTypeObject* type;  // a new reference, owned by the caller
    std::size_t count;
    std::size_t bytes;
};

struct DeepSize {
    std::size_t bytes = 0;
    std::size_t objects = 0;
    std::vector<TypeBytes> by_type;  // filled when asked for, largest first
};

// Measures `root` and everything reachable from it through tp_traverse (the referents the
// cyclic GC sees; a NumPy array's `base` too), each object once. Returns false with a Python
// exception set (SizeofError for a broken __sizeof__). Holds the GIL throughout except while a
// Python-level __sizeof__ runs; every object it has seen is kept alive until it returns, so
// other threads mutating the structure cannot free memory under it.
bool deep_sizeof(PyObject* root, unsigned enter, bool by_type, DeepSize& out);

// The true size of one object: __sizeof__() plus the pre-header, inline values and other
// allocations the interpreter hides from sys.getsizeof. -1 with an exception set on error.
Py_ssize_t true_sizeof(PyObject* o);

// Exactly sys.getsizeof(o) of the running interpreter. -1 with an exception set on error.
Py_ssize_t getsizeof(PyObject* o);

// Sizes objects one at a time for heap walks, with a cache per type. It never runs Python
// code: an object whose __sizeof__ is written in Python, or raises, is measured by its layout
// (tp_basicsize + items + pre-header + hidden bytes) instead. Needs the GIL.
class ObjectSizer {
  public:
    ObjectSizer();
    ~ObjectSizer();
    ObjectSizer(const ObjectSizer&) = delete;
    ObjectSizer& operator=(const ObjectSizer&) = delete;
    std::size_t size(PyObject* o);

  private:
    struct Impl;
    Impl* impl_;
};

// The exception type raised for objects whose __sizeof__ raises or returns nonsense
// (a subclass of ValueError). Created on first use; borrowed reference.
PyObject* sizeof_error_type();

}  // namespace memslim::cpython
