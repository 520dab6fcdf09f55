// deep_size.cpp — deep and shallow object sizes over CPython objects (see deep_size.h).
#include "cpython/deep_size.h"

#include <cstdint>
#include <cstring>
#include <unordered_set>

#include "cpython/object_layout.h"
#include "cpython/referents.h"
#include "engine/reachable_walk.h"
#include "engine/tally.h"

#if PY_VERSION_HEX >= 0x030D0000
// 3.13 moved the declaration to the internal headers; the function is still exported.
extern "C" PyAPI_FUNC(Py_ssize_t) _PyDict_SizeOf(PyDictObject*);
#endif

namespace memslim::cpython {

namespace {

// How the __sizeof__ of a type is computed. Built-in rules reproduce CPython's own
// __sizeof__ implementations exactly and avoid a Python call per object; anything else calls the
// type's __sizeof__.
enum class SizeRule : std::uint8_t {
    kObjectDefault,  // object.__sizeof__: tp_basicsize + ob_size * tp_itemsize
    kList,           // list.__sizeof__
    kDict,           // dict.__sizeof__
    kInt,            // int.__sizeof__
    kStr,            // str.__sizeof__ (compact ASCII fast path, otherwise a call)
    kCall,           // look up and call __sizeof__
};

enum class Boundary : std::uint8_t { kNone, kType, kModule, kFunction, kCode };

struct TypeInfo {
    PyTypeObject* type = nullptr;
    SizeRule rule = SizeRule::kCall;
    Boundary boundary = Boundary::kNone;
    bool numpy_array = false;  // not a GC container, but has referents (see visit_owned)
    // Sizing may run Python code (a __sizeof__ written in Python), during which other threads
    // run and may free objects the walk still holds.
    bool runs_python = false;
    // Has no referents to follow and runs no Python: measured as soon as it is reached.
    bool leaf = false;
};

PyObject* g_sizeof_name = nullptr;
PyObject* g_descr_object = nullptr;  // object.__sizeof__ etc., borrowed from the static types
PyObject* g_descr_list = nullptr;
PyObject* g_descr_dict = nullptr;
PyObject* g_descr_int = nullptr;
PyObject* g_descr_str = nullptr;
PyTypeObject* g_method_wrapper_type = nullptr;  // not exported by 3.13: found at run time

bool init_names() {
    if (g_sizeof_name != nullptr) return true;
    g_sizeof_name = PyUnicode_InternFromString("__sizeof__");
    if (g_sizeof_name == nullptr) return false;
    g_descr_object = _PyType_Lookup(&PyBaseObject_Type, g_sizeof_name);
    g_descr_list = _PyType_Lookup(&PyList_Type, g_sizeof_name);
    g_descr_dict = _PyType_Lookup(&PyDict_Type, g_sizeof_name);
    g_descr_int = _PyType_Lookup(&PyLong_Type, g_sizeof_name);
    g_descr_str = _PyType_Lookup(&PyUnicode_Type, g_sizeof_name);
    PyObject* wrapper = PyObject_GetAttrString(Py_None, "__repr__");
    if (wrapper == nullptr) return false;
    g_method_wrapper_type = Py_TYPE(wrapper);
    Py_DECREF(wrapper);
    init_object_layout();
    return true;
}

bool is_subtype_named(PyTypeObject* tp, const char* name) {
    PyObject* mro = tp->tp_mro;
    if (mro == nullptr || !PyTuple_Check(mro)) return false;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); ++i) {
        auto* base = reinterpret_cast<PyTypeObject*>(PyTuple_GET_ITEM(mro, i));
        if (std::strcmp(base->tp_name, name) == 0) return true;
    }
    return false;
}

TypeInfo classify(PyTypeObject* tp) {
    TypeInfo info;
    info.type = tp;
    PyObject* descr = _PyType_Lookup(tp, g_sizeof_name);
    if (descr == g_descr_object) {
        info.rule = SizeRule::kObjectDefault;
    } else if (descr == g_descr_list) {
        info.rule = SizeRule::kList;
    } else if (descr == g_descr_dict) {
        info.rule = SizeRule::kDict;
    } else if (descr == g_descr_int) {
        info.rule = SizeRule::kInt;
    } else if (descr == g_descr_str) {
        info.rule = SizeRule::kStr;
    }

    if (PyType_FastSubclass(tp, Py_TPFLAGS_TYPE_SUBCLASS)) {
        info.boundary = Boundary::kType;
    } else if (PyType_IsSubtype(tp, &PyModule_Type)) {
        info.boundary = Boundary::kModule;
    } else if (tp == &PyCode_Type) {
        info.boundary = Boundary::kCode;
    } else if (PyType_IsSubtype(tp, &PyFunction_Type) || PyType_IsSubtype(tp, &PyCFunction_Type) ||
               tp == &PyMethod_Type || tp == &PyInstanceMethod_Type || tp == &PyMethodDescr_Type ||
               tp == &PyClassMethodDescr_Type || tp == &PyWrapperDescr_Type ||
               tp == g_method_wrapper_type) {
        info.boundary = Boundary::kFunction;
    }
    info.numpy_array = is_subtype_named(tp, "numpy.ndarray");
    info.runs_python =
        info.rule == SizeRule::kCall && descr != nullptr && Py_TYPE(descr) != &PyMethodDescr_Type;
    const bool has_referents = (tp->tp_traverse != nullptr && PyType_IS_GC(tp)) ||
                               info.numpy_array || PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT);
    info.leaf = !has_referents && !info.runs_python;
    return info;
}

// A direct-mapped cache of TypeInfo: a walk sees few types, and looks one up per edge. It holds
// a reference to every type it has classified until the walk ends, so a cached pointer can never
// be reused by a new type, and types can be reported after the objects are gone.
class TypeInfoCache {
  public:
    TypeInfoCache() = default;
    TypeInfoCache(const TypeInfoCache&) = delete;
    TypeInfoCache& operator=(const TypeInfoCache&) = delete;
    ~TypeInfoCache() {
        for (PyTypeObject* tp : held_) Py_DECREF(tp);
    }

    const TypeInfo& get(PyTypeObject* tp) {
        auto slot = (reinterpret_cast<std::uintptr_t>(tp) >> 4) % kSlots;
        TypeInfo& info = slots_[slot];
        if (info.type != tp) {
            info = classify(tp);
            if (held_.insert(tp).second) Py_INCREF(tp);
        }
        return info;
    }

  private:
    static constexpr std::size_t kSlots = 251;
    TypeInfo slots_[kSlots];
    std::unordered_set<PyTypeObject*> held_;
};

bool crosses(Boundary boundary, unsigned enter) {
    switch (boundary) {
        case Boundary::kNone:
            return false;
        case Boundary::kType:
            return !(enter & kEnterTypes);
        case Boundary::kModule:
            return !(enter & kEnterModules);
        case Boundary::kFunction:
            return !(enter & kEnterFunctions);
        case Boundary::kCode:
            return !(enter & kEnterCode);
    }
    return false;
}

// Sets SizeofError from the exception being raised, keeping it as __cause__.
void raise_sizeof_error_from_current(PyTypeObject* tp) {
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (traceback != nullptr && value != nullptr) PyException_SetTraceback(value, traceback);
    PyErr_Format(sizeof_error_type(), "%s.__sizeof__() raised %s: %S", tp->tp_name,
                 type ? reinterpret_cast<PyTypeObject*>(type)->tp_name : "an exception",
                 value ? value : Py_None);
    PyObject *new_type, *new_value, *new_traceback;
    PyErr_Fetch(&new_type, &new_value, &new_traceback);
    PyErr_NormalizeException(&new_type, &new_value, &new_traceback);
    if (value != nullptr) {
        Py_INCREF(value);
        PyException_SetCause(new_value, value);    // steals the new reference
        PyException_SetContext(new_value, value);  // steals `value`
    }
    Py_XDECREF(type);
    Py_XDECREF(traceback);
    PyErr_Restore(new_type, new_value, new_traceback);
}

// Calls type(o).__sizeof__(o) the way sys.getsizeof does, checking what comes back.
Py_ssize_t call_sizeof(PyObject* o) {
    PyTypeObject* tp = Py_TYPE(o);
    PyObject* descr = _PyType_Lookup(tp, g_sizeof_name);
    if (descr == nullptr) {
        PyErr_Format(sizeof_error_type(), "type %s does not define __sizeof__", tp->tp_name);
        return -1;
    }
    Py_INCREF(descr);
    PyObject* result = nullptr;
    if (Py_TYPE(descr) == &PyMethodDescr_Type) {
        // A C method (list.__sizeof__, ndarray.__sizeof__, ...): call it unbound, with no bound
        // method object to allocate.
        result = PyObject_Vectorcall(descr, &o, 1, nullptr);
        Py_DECREF(descr);
    } else {
        PyObject* method = descr;
        if (descrgetfunc get = Py_TYPE(descr)->tp_descr_get; get != nullptr) {
            method = get(descr, o, reinterpret_cast<PyObject*>(tp));
            Py_DECREF(descr);
            if (method == nullptr) {
                raise_sizeof_error_from_current(tp);
                return -1;
            }
        }
        result = PyObject_CallNoArgs(method);
        Py_DECREF(method);
    }
    if (result == nullptr) {
        raise_sizeof_error_from_current(tp);
        return -1;
    }
    if (!PyLong_Check(result)) {
        PyErr_Format(sizeof_error_type(), "%s.__sizeof__() returned %s, not an int", tp->tp_name,
                     Py_TYPE(result)->tp_name);
        Py_DECREF(result);
        return -1;
    }
    int overflow = 0;
    long long size = PyLong_AsLongLongAndOverflow(result, &overflow);
    if (overflow != 0 || size < 0 || size > PY_SSIZE_T_MAX) {
        PyErr_Format(sizeof_error_type(),
                     "%s.__sizeof__() returned %R; a size must be a non-negative int below 2**63",
                     tp->tp_name, result);
        Py_DECREF(result);
        return -1;
    }
    Py_DECREF(result);
    return static_cast<Py_ssize_t>(size);
}

Py_ssize_t dunder_sizeof(PyObject* o, const TypeInfo& info) {
    PyTypeObject* tp = info.type;
    switch (info.rule) {
        case SizeRule::kObjectDefault: {
            // Objects/typeobject.c object___sizeof___impl
            Py_ssize_t size = tp->tp_basicsize;
            if (tp->tp_itemsize > 0) size += Py_SIZE(o) * tp->tp_itemsize;
            return size;
        }
        case SizeRule::kList:
            return tp->tp_basicsize + reinterpret_cast<PyListObject*>(o)->allocated *
                                          static_cast<Py_ssize_t>(sizeof(void*));
        case SizeRule::kDict:
            return _PyDict_SizeOf(reinterpret_cast<PyDictObject*>(o));
        case SizeRule::kInt: {
            // Objects/longobject.c int___sizeof___impl
#if PY_VERSION_HEX >= 0x030C0000
            auto* number = reinterpret_cast<PyLongObject*>(o);
            Py_ssize_t digits = static_cast<Py_ssize_t>(number->long_value.lv_tag >> 3);
            if (digits < 1) digits = 1;
            return static_cast<Py_ssize_t>(offsetof(PyLongObject, long_value.ob_digit)) +
                   digits * static_cast<Py_ssize_t>(sizeof(digit));
#else
            Py_ssize_t digits = Py_SIZE(o) < 0 ? -Py_SIZE(o) : Py_SIZE(o);
            if (digits < 1) digits = 1;  // zero is charged one digit, as by sys.getsizeof
            return static_cast<Py_ssize_t>(offsetof(PyLongObject, ob_digit)) +
                   digits * static_cast<Py_ssize_t>(sizeof(digit));
#endif
        }
        case SizeRule::kStr:
            // Objects/unicodeobject.c unicode___sizeof___impl, compact ASCII case: the UTF-8
            // form shares the data, and (3.11) no wchar_t copy has been made.
            if (PyUnicode_IS_COMPACT_ASCII(o)
#if PY_VERSION_HEX < 0x030C0000
                && reinterpret_cast<PyASCIIObject*>(o)->wstr == nullptr
#endif
            ) {
                return static_cast<Py_ssize_t>(sizeof(PyASCIIObject)) + PyUnicode_GET_LENGTH(o) + 1;
            }
            return call_sizeof(o);
        case SizeRule::kCall:
            return call_sizeof(o);
    }
    return call_sizeof(o);
}

Py_ssize_t true_size(PyObject* o, const TypeInfo& info) {
    Py_ssize_t size = dunder_sizeof(o, info);
    if (size < 0) return -1;
    size += static_cast<Py_ssize_t>(getsizeof_header(o));
    Py_ssize_t total = size + hidden_bytes(o);
    return total < 0 ? 0 : total;
}

struct WalkState {
    engine::ReachableWalk walk;
    TypeInfoCache types;
    unsigned enter = 0;
    bool by_type = false;
    bool failed = false;  // a size could not be taken; a Python exception is set
    std::size_t bytes = 0;
    std::size_t objects = 0;
    engine::Tally tally;
    std::vector<PyObject*> pinned;  // references taken by pin_pending(), released at the end
};

bool account(WalkState& state, PyObject* o, const TypeInfo& info) {
    Py_ssize_t size = true_size(o, info);
    if (size < 0) return false;
    state.bytes += static_cast<std::size_t>(size);
    state.objects += 1;
    if (state.by_type) {
        state.tally.add(reinterpret_cast<std::uintptr_t>(info.type),
                        static_cast<std::size_t>(size));
    }
    return true;
}

// The walk holds no references while only C code runs (with the GIL held and the cyclic GC
// paused nothing else can run). Before anything that may run Python code, it takes a reference
// to each object it will still dereference: the current one and those queued since last time.
void pin_pending(WalkState& state, PyObject* current) {
    state.walk.for_each_new_pending([&](std::uintptr_t address) {
        auto* o = reinterpret_cast<PyObject*>(address);
        Py_INCREF(o);
        state.pinned.push_back(o);
    });
    Py_INCREF(current);
    state.pinned.push_back(current);
}

int visit_referent(PyObject* child, void* arg) {
    auto& state = *static_cast<WalkState*>(arg);
    const TypeInfo& info = state.types.get(Py_TYPE(child));
    if (crosses(info.boundary, state.enter)) return 0;
    if (is_static_or_immortal(child)) return 0;
    const auto address = reinterpret_cast<std::uintptr_t>(child);
    if (!info.leaf) {
        state.walk.offer(address);
        return 0;
    }
    // A leaf (str, int, float, bytes, ...) is measured now, while its header is in cache.
    if (state.walk.mark_seen(address) && !account(state, child, info)) {
        state.failed = true;
        return -1;  // stops tp_traverse
    }
    return 0;
}


}  // namespace

PyObject* sizeof_error_type() {
    static PyObject* error = nullptr;
    if (error == nullptr) {
        error = PyErr_NewExceptionWithDoc(
            "memslim.SizeofError",
            "An object's __sizeof__() raised or returned something that is not a size.",
            PyExc_ValueError, nullptr);
    }
    return error;
}

bool deep_sizeof(PyObject* root, unsigned enter, bool by_type, DeepSize& out) {
    if (!init_names()) return false;
    out = DeepSize{};
    // Pause the cyclic GC: a collection triggered by an allocation here would run finalizers
    // (arbitrary Python code) in the middle of the walk.
    const int gc_was_enabled = PyGC_Disable();
    WalkState state;
    state.enter = enter;
    state.by_type = by_type;

    state.walk.offer(reinterpret_cast<std::uintptr_t>(root));  // always measured, whatever its kind
    std::uintptr_t node = 0;
    while (!state.failed && state.walk.next(node)) {
        auto* o = reinterpret_cast<PyObject*>(node);
        const TypeInfo info = state.types.get(Py_TYPE(o));  // a copy: traversal reuses cache slots
        if (info.runs_python) pin_pending(state, o);
        if (!account(state, o, info)) {
            state.failed = true;
            break;
        }
        visit_owned(o, visit_referent, &state);  // a NumPy array's base and items too
    }

    if (!state.failed) {
        out.bytes = state.bytes;
        out.objects = state.objects;
        if (by_type) {
            for (const engine::TallyRow& row : state.tally.largest_first()) {
                auto* type = reinterpret_cast<PyTypeObject*>(row.key);
                Py_INCREF(type);  // owned by the caller
                out.by_type.push_back({type, row.count, row.bytes});
            }
        }
    }
    // Releasing pinned objects may free them (if another thread dropped them meanwhile) and run
    // arbitrary code; keep the error, if any, across that.
    PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
    if (state.failed) PyErr_Fetch(&type, &value, &traceback);
    for (PyObject* o : state.pinned) Py_DECREF(o);
    if (gc_was_enabled) PyGC_Enable();
    if (state.failed) PyErr_Restore(type, value, traceback);
    return !state.failed;
}

struct ObjectSizer::Impl {
    TypeInfoCache types;
};

ObjectSizer::ObjectSizer() : impl_(new Impl()) {
    init_names();
}

ObjectSizer::~ObjectSizer() {
    delete impl_;
}

std::size_t ObjectSizer::size(PyObject* o) {
    TypeInfo info = impl_->types.get(Py_TYPE(o));
    if (info.runs_python) info.rule = SizeRule::kObjectDefault;
    Py_ssize_t size = true_size(o, info);
    if (size < 0) {
        PyErr_Clear();
        info.rule = SizeRule::kObjectDefault;
        size = true_size(o, info);
    }
    return size < 0 ? 0 : static_cast<std::size_t>(size);
}

Py_ssize_t true_sizeof(PyObject* o) {
    if (!init_names()) return -1;
    return true_size(o, classify(Py_TYPE(o)));
}

Py_ssize_t getsizeof(PyObject* o) {
    if (!init_names()) return -1;
    Py_ssize_t size = dunder_sizeof(o, classify(Py_TYPE(o)));
    if (size < 0) return -1;
    return size + static_cast<Py_ssize_t>(getsizeof_header(o));
}

}  // namespace memslim::cpython
