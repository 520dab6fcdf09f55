// object_layout.h — what an object really occupies, and which objects are not on the heap.
//
// This is the one place that knows how CPython lays objects out beyond what __sizeof__()
// reports. Each quirk names the CPython versions it applies to; object_layout.cpp holds the
// per-version code. Supported: CPython 3.11, 3.12 and 3.13 with the GIL (not free-threaded).
#pragma once

#include <Python.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace memslim::cpython {

// Must be called once (with the GIL held) before any other function here.
void init_object_layout();

// What sys.getsizeof(o) adds to o.__sizeof__() on the running interpreter: the pre-header of
// o's type (GC header, managed dict and weakref words); 3.13 leaves it out for static types.
std::size_t getsizeof_header(PyObject* o);

// Bytes allocated for `o` that neither __sizeof__() nor sys.getsizeof() count (may be negative
// when __sizeof__ counts memory that physically belongs to another object):
//  * 3.11/3.12: the separately allocated array holding an instance's attribute values, and the
//    size prefix of a split dict's values array;
//  * the sentinel item PyType_GenericAlloc adds to instances of subclasses of tuple, int, bytes;
//  * 3.11+: the padding at the end of one-digit ints, allocated as a whole PyLongObject;
//  * 3.13: attribute values stored inline at the end of the instance; a dict materialised from
//    such an instance reports those values as its own, so they are subtracted there.
Py_ssize_t hidden_bytes(PyObject* o);

// The address the allocator returned for `o`: the object minus its type's pre-header (GC
// header, and the managed dict / weakref words of 3.11+ instances).
std::uintptr_t allocation_address(PyObject* o);

// The instance dict materialised for `o` (for example by reading `o.__dict__`), or nullptr.
// Borrowed. Only for instances whose type manages its dict (Py_TPFLAGS_MANAGED_DICT); on 3.13
// tp_traverse does not report such a dict while the inline values are still in use.
PyObject* managed_dict(PyObject* o);

// True when a weak reference to `o` exists (its type allows them and its weakref list is not
// empty), read from the list's word without creating anything.
bool is_weakly_referenced(PyObject* o);

// The name of the attribute of instance `o` that holds `value`, looked up in the attribute
// values stored with the instance (managed dict, not materialised) and in its __slots__, without
// creating anything. A new reference; nullptr if none holds it.
PyObject* attribute_name_of(PyObject* o, PyObject* value);

// The names of the attributes set on instance `o` (borrowed references, in the order of its
// keys), read from the values stored with the instance or from its materialised dict, never
// creating anything. Returns the materialised instance dict (borrowed), or nullptr when the
// attributes live in the compact values (or `o` has no instance attributes at all).
PyObject* instance_attribute_names(PyObject* o, std::vector<PyObject*>& names);

// True for objects that are shared by every program and never freed: objects statically
// allocated inside the interpreter (None, True, small ints, one-character strings, static types,
// deep-frozen constants) and, on 3.12+, immortal objects (such as interned strings).
bool is_static_or_immortal(PyObject* o);

// Every object the cyclic GC tracks, in the order gc.get_objects() lists them, read from the
// GC's generation lists in place, without taking a reference to any (a write to every object's
// page). The lists are found from a new object's GC header (3.11-3.13: the youngest
// generation's head, the three heads 24 bytes apart) and each link is checked; false (and
// `out` left empty) if anything does not hold, and the caller asks gc.get_objects() instead.
// The objects are borrowed: only for a process in which nothing runs meanwhile (a census
// child), and with the GIL held.
bool gc_objects_in_place(std::vector<PyObject*>* out);

}  // namespace memslim::cpython
