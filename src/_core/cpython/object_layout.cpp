// object_layout.cpp — per-version CPython object layout facts (see object_layout.h).
#include "cpython/object_layout.h"

#include <cstdint>

#if PY_VERSION_HEX < 0x030C0000
#include <structmember.h>  // PyMemberDef
#endif
#include <vector>

#if defined(__linux__)
#include <link.h>
#endif

#if PY_VERSION_HEX < 0x030B0000
#error "memslim supports CPython 3.11 and newer"
#endif
#if defined(Py_GIL_DISABLED)
#error "memslim does not support free-threaded CPython builds yet"
#endif

namespace memslim::cpython {

namespace {

// The head of CPython's PyDictKeysObject (Include/internal/pycore_dict.h), identical in 3.11,
// 3.12 and 3.13 for builds with the GIL. Only the two counters that size a values array are read.
struct DictKeysHead {
    Py_ssize_t dk_refcnt;
    std::uint8_t dk_log2_size;
    std::uint8_t dk_log2_index_bytes;
    std::uint8_t dk_kind;
    std::uint32_t dk_version;
    Py_ssize_t dk_usable;
    Py_ssize_t dk_nentries;
};

// Number of value slots of a values array built for `keys` (CPython's
// shared_keys_usable_size()): entries used so far plus entries still usable.
std::size_t shared_keys_usable_size(const void* keys) {
    auto* head = static_cast<const DictKeysHead*>(keys);
    return static_cast<std::size_t>(head->dk_nentries + head->dk_usable);
}

constexpr std::size_t kPointer = sizeof(PyObject*);
#if PY_VERSION_HEX >= 0x030C0000
constexpr std::size_t kOneDigitIntPadding =
    sizeof(PyLongObject) - (offsetof(PyLongObject, long_value.ob_digit) + sizeof(digit));
#else
constexpr std::size_t kOneDigitIntPadding =
    sizeof(PyLongObject) - (offsetof(PyLongObject, ob_digit) + sizeof(digit));
#endif
// PyGC_Head (Include/internal/pycore_gc.h) is two words in every GIL build of 3.11-3.13.
constexpr std::size_t kGCHeadSize = 2 * sizeof(std::uintptr_t);
constexpr std::size_t round_up(std::size_t n, std::size_t to) {
    return (n + to - 1) / to * to;
}

std::size_t pre_header_size(PyTypeObject* tp) {
    std::size_t size = PyType_IS_GC(tp) ? kGCHeadSize : 0;
#if PY_VERSION_HEX >= 0x030C0000
    if (PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT | Py_TPFLAGS_MANAGED_WEAKREF)) {
        size += 2 * kPointer;
    }
#else
    if (PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT)) size += 2 * kPointer;
#endif
    return size;
}

#if PY_VERSION_HEX < 0x030D0000
// Bytes of a values array made by 3.11/3.12's new_values(size): a prefix of
// round_up(size + 2, 8) bytes (insertion order, count, and the prefix size in its last byte),
// then `size` slots. `size` itself is not stored: it was the shared keys' usable size when the
// array was made, and that only shrinks as instances are created (init_inline_values() takes one
// off each time). So the keys' usable size now is a lower bound, and the prefix bounds it to
// [prefix - 9, prefix - 2]; the clamp is exact once a class has more than a few instances and at
// most 7 slots short for the very first ones.
std::size_t values_allocation(const std::uint8_t* values, const void* keys) {
    const std::size_t prefix = values[-1];
    const std::size_t lowest = prefix >= 10 ? prefix - 9 : 1;
    const std::size_t highest = prefix >= 3 ? prefix - 2 : 1;
    std::size_t slots = shared_keys_usable_size(keys);
    if (slots < lowest) slots = lowest;
    if (slots > highest) slots = highest;
    return prefix + slots * kPointer;
}
#endif

// Address ranges of the interpreter's own loaded image (libpython or the python executable):
// objects inside them were never allocated and are never freed.
struct ImageRange {
    std::uintptr_t start;
    std::uintptr_t end;
};
std::vector<ImageRange> g_image_ranges;

#if defined(__linux__)
int collect_image_ranges(struct dl_phdr_info* info, std::size_t, void* anchor_ptr) {
    const auto anchor = reinterpret_cast<std::uintptr_t>(anchor_ptr);
    std::vector<ImageRange> ranges;
    bool contains_anchor = false;
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const auto& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_LOAD) continue;
        std::uintptr_t start = info->dlpi_addr + ph.p_vaddr;
        std::uintptr_t end = start + ph.p_memsz;
        ranges.push_back({start, end});
        if (anchor >= start && anchor < end) contains_anchor = true;
    }
    if (!contains_anchor) return 0;
    g_image_ranges = std::move(ranges);
    return 1;  // stop iterating
}
#endif

}  // namespace

void init_object_layout() {
    g_image_ranges.clear();
#if defined(__linux__)
    dl_iterate_phdr(collect_image_ranges, static_cast<void*>(Py_None));
#endif
    if (g_image_ranges.empty()) {
        // Without the loader's view, still recognise the best-known singletons.
        for (PyObject* o : {Py_None, Py_True, Py_False, Py_Ellipsis, Py_NotImplemented}) {
            auto a = reinterpret_cast<std::uintptr_t>(o);
            g_image_ranges.push_back({a, a + 1});
        }
    }
}

std::size_t getsizeof_header(PyObject* o) {
#if PY_VERSION_HEX >= 0x030D0000
    // sysmodule.c (3.13+): the pre-header is added unless `o` is a static type (3.12.1 still
    // adds it to static types too).
    if (Py_IS_TYPE(o, &PyType_Type) &&
        !PyType_HasFeature(reinterpret_cast<PyTypeObject*>(o), Py_TPFLAGS_HEAPTYPE)) {
        return 0;
    }
#endif
    // sysmodule.c (3.11, 3.12): the pre-header of the object's type, whatever the object.
    return pre_header_size(Py_TYPE(o));
}

Py_ssize_t hidden_bytes(PyObject* o) {
    PyTypeObject* tp = Py_TYPE(o);
    Py_ssize_t extra = 0;

    if (PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT)) {
        const void* cached_keys = reinterpret_cast<PyHeapTypeObject*>(tp)->ht_cached_keys;
#if PY_VERSION_HEX >= 0x030D0000
        // 3.13: values live inline after tp_basicsize (_PyInlineValuesSize): a header word, one
        // slot per usable key, and an insertion-order byte per key rounded up to a word. The
        // header's first byte is the capacity; the allocation was sized one slot larger only for
        // the first few instances of a class (_PyObject_InitInlineValues), which we accept.
        if (PyType_HasFeature(tp, Py_TPFLAGS_INLINE_VALUES)) {
            const auto* inline_values = reinterpret_cast<const std::uint8_t*>(o) + tp->tp_basicsize;
            std::size_t slots = inline_values[0];
            extra += static_cast<Py_ssize_t>(round_up(slots, kPointer) + (slots + 1) * kPointer);
        }
        (void)cached_keys;
#else
#if PY_VERSION_HEX >= 0x030C0000
        // 3.12: one tagged word at obj[-3] holds either the dict or (low bit set) the values.
        auto tagged = reinterpret_cast<std::uintptr_t*>(o)[-3];
        const std::uint8_t* values =
            (tagged & 1) ? reinterpret_cast<const std::uint8_t*>(tagged + 1) : nullptr;
#else
        // 3.11: the values pointer is at obj[-4] (_PyObject_ValuesPointer).
        const std::uint8_t* values = reinterpret_cast<std::uint8_t**>(o)[-4];
#endif
        if (values != nullptr && cached_keys != nullptr) {
            extra += static_cast<Py_ssize_t>(values_allocation(values, cached_keys));
        }
#endif
    }

    if (tp->tp_itemsize > 0 && tp->tp_alloc == PyType_GenericAlloc &&
        PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE)) {
        // Subclasses of variable-size types (tuple, int, bytes) are allocated by
        // PyType_GenericAlloc, which reserves one item more than asked for, as a sentinel.
        extra += tp->tp_itemsize;
    }

    if (PyLong_CheckExact(o)) {
        // Ints of at most one digit are nearly always made by _PyLong_FromMedium (arithmetic,
        // PyLong_FromLong), which allocates a whole PyLongObject: padding included, 4 bytes more
        // than int.__sizeof__() reports (3.11-3.13).
#if PY_VERSION_HEX >= 0x030C0000
        bool one_digit = (reinterpret_cast<PyLongObject*>(o)->long_value.lv_tag >> 3) <= 1;
#else
        bool one_digit = Py_SIZE(o) >= -1 && Py_SIZE(o) <= 1;
#endif
        if (one_digit) extra += kOneDigitIntPadding;
    }

    if (PyDict_Check(o)) {
        auto* dict = reinterpret_cast<PyDictObject*>(o);
        if (dict->ma_values != nullptr) {
            std::size_t slots = shared_keys_usable_size(dict->ma_keys);
#if PY_VERSION_HEX >= 0x030D0000
            // 3.13: the first byte of PyDictValues after `capacity` and `size` says whether the
            // values are embedded in an instance (counted there) or allocated on their own.
            const auto* header = reinterpret_cast<const std::uint8_t*>(dict->ma_values);
            bool embedded = header[2] != 0;
            if (embedded) {
                extra -= static_cast<Py_ssize_t>(slots * kPointer);
            } else {
                extra += static_cast<Py_ssize_t>(round_up(slots, kPointer) + kPointer);
            }
#else
            // 3.11/3.12: _PyDict_SizeOf counts one slot per usable key of the keys as they are
            // now; the array was allocated with a prefix, for the keys as they were then.
            const auto* values = reinterpret_cast<const std::uint8_t*>(dict->ma_values);
            extra += static_cast<Py_ssize_t>(values_allocation(values, dict->ma_keys)) -
                     static_cast<Py_ssize_t>(slots * kPointer);
#endif
        }
    }
    return extra;
}

std::uintptr_t allocation_address(PyObject* o) {
    PyTypeObject* tp = Py_TYPE(o);
    std::size_t pre_header = pre_header_size(tp);
    // A static type object is not GC-allocated although its type (type) is a GC type.
    if (PyType_IS_GC(tp) && !PyObject_IS_GC(o)) pre_header -= kGCHeadSize;
    return reinterpret_cast<std::uintptr_t>(o) - pre_header;
}

PyObject* managed_dict(PyObject* o) {
    if (!PyType_HasFeature(Py_TYPE(o), Py_TPFLAGS_MANAGED_DICT)) return nullptr;
    // The dict word is obj[-3] in 3.11-3.13 (MANAGED_DICT_OFFSET); 3.12 tags values with bit 0.
    auto word = reinterpret_cast<std::uintptr_t*>(o)[-3];
#if PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030D0000
    if (word & 1) return nullptr;
#endif
    return reinterpret_cast<PyObject*>(word);
}

bool is_weakly_referenced(PyObject* o) {
    // The weakref list's word lives at tp_weaklistoffset from the object in 3.11-3.13: inside
    // the instance, or (3.12+'s managed weakref slot, Py_TPFLAGS_MANAGED_WEAKREF) a negative
    // offset into the pre-header.
    const Py_ssize_t offset = Py_TYPE(o)->tp_weaklistoffset;
    return offset != 0 &&
           *reinterpret_cast<PyObject**>(reinterpret_cast<char*>(o) + offset) != nullptr;
}

namespace {

constexpr int kObjectExMember = 16;  // T_OBJECT_EX (3.11) / Py_T_OBJECT_EX (3.12+)

// The entries of a str-keyed dict keys object (PyDictUnicodeEntry: key, value) follow the
// header and an index table of 2**dk_log2_index_bytes bytes.
struct UnicodeEntry {
    PyObject* key;
    PyObject* value;
};
const UnicodeEntry* unicode_entries(const void* keys) {
    auto* head = static_cast<const DictKeysHead*>(keys);
    return reinterpret_cast<const UnicodeEntry*>(reinterpret_cast<const char*>(keys) +
                                                 sizeof(DictKeysHead) +
                                                 (std::size_t{1} << head->dk_log2_index_bytes));
}

// The attribute value slots stored with an instance of a managed-dict class, or nullptr.
PyObject* const* instance_values(PyObject* o) {
    PyTypeObject* tp = Py_TYPE(o);
    if (!PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT)) return nullptr;
#if PY_VERSION_HEX >= 0x030D0000
    if (!PyType_HasFeature(tp, Py_TPFLAGS_INLINE_VALUES)) return nullptr;
    const auto* header = reinterpret_cast<const std::uint8_t*>(o) + tp->tp_basicsize;
    if (header[3] == 0) return nullptr;  // `valid`: the values moved to a materialised dict
    return reinterpret_cast<PyObject* const*>(header + 8);
#elif PY_VERSION_HEX >= 0x030C0000
    auto tagged = reinterpret_cast<std::uintptr_t*>(o)[-3];
    if (!(tagged & 1)) return nullptr;
    return reinterpret_cast<PyObject* const*>(tagged + 1);
#else
    return reinterpret_cast<PyObject* const* const*>(o)[-4];
#endif
}

// Calls each(name, value) for the attribute values stored with instance `o` (its shared keys'
// names; value nullptr for a name this instance has not set) until it returns true. Returns
// false when `o` keeps no such values (slotted, or its values moved to a materialised dict).
template <class Each>
bool for_each_instance_value(PyObject* o, Each each) {
    PyObject* const* values = instance_values(o);
    if (values == nullptr) return false;
    const void* keys = reinterpret_cast<PyHeapTypeObject*>(Py_TYPE(o))->ht_cached_keys;
    if (keys == nullptr) return true;
    const UnicodeEntry* entries = unicode_entries(keys);
    const auto count = static_cast<const DictKeysHead*>(keys)->dk_nentries;
    for (Py_ssize_t i = 0; i < count; ++i) {
        if (each(entries[i].key, values[i])) break;
    }
    return true;
}

}  // namespace

PyObject* attribute_name_of(PyObject* o, PyObject* value) {
    PyTypeObject* tp = Py_TYPE(o);
    PyObject* found = nullptr;
    for_each_instance_value(o, [&](PyObject* name, PyObject* v) {
        if (v == value) found = name;
        return found != nullptr;
    });
    if (found != nullptr) return Py_NewRef(found);
    // __slots__: object members of this type and its bases.
    for (PyTypeObject* t = tp; t != nullptr; t = t->tp_base) {
        if (!PyType_HasFeature(t, Py_TPFLAGS_HEAPTYPE) || t->tp_members == nullptr) continue;
        for (const PyMemberDef* m = t->tp_members; m->name != nullptr; ++m) {
            if (m->type != kObjectExMember) continue;
            auto* slot =
                *reinterpret_cast<PyObject* const*>(reinterpret_cast<const char*>(o) + m->offset);
            if (slot == value) return PyUnicode_FromString(m->name);
        }
    }
    return nullptr;
}

PyObject* instance_attribute_names(PyObject* o, std::vector<PyObject*>& names) {
    names.clear();
    PyTypeObject* tp = Py_TYPE(o);
    if (for_each_instance_value(o, [&](PyObject* name, PyObject* value) {
            if (value != nullptr) names.push_back(name);
            return false;
        })) {
        return managed_dict(o);  // 3.13: a materialised dict may share the inline values
    }
    PyObject* dict = managed_dict(o);
    if (dict == nullptr && !PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT) &&
        tp->tp_dictoffset > 0) {
        dict = *reinterpret_cast<PyObject**>(reinterpret_cast<char*>(o) + tp->tp_dictoffset);
    }
    if (dict == nullptr || !PyDict_Check(dict)) return nullptr;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(dict, &pos, &key, &value)) names.push_back(key);
    return dict;
}

bool is_static_or_immortal(PyObject* o) {
#if PY_VERSION_HEX >= 0x030C0000
    if (_Py_IsImmortal(o)) return true;
#endif
    const auto address = reinterpret_cast<std::uintptr_t>(o);
    for (const ImageRange& range : g_image_ranges) {
        if (address >= range.start && address < range.end) return true;
    }
    return false;
}

bool gc_objects_in_place(std::vector<PyObject*>* out) {
    out->clear();
#if PY_VERSION_HEX >= 0x030E0000 || defined(Py_GIL_DISABLED)
    return false;  // other collectors (3.14's incremental one, free-threading's heaps)
#else
    // A GC header: the two words before the object (the managed dict and weakref words, when a
    // type has them, come before the header). The low bits of `prev` hold the collector's flags;
    // `next` has none outside a collection.
    struct Header {
        std::uintptr_t next;
        std::uintptr_t prev;
    };
    constexpr std::uintptr_t kPrevFlags = 3;
    constexpr std::size_t kGenerations = 3;
    constexpr std::size_t kGenerationBytes =
        sizeof(Header) + 2 * sizeof(int);  // + threshold, count
    PyObject* probe = PyList_New(0);       // tracked at once: appended to the youngest generation
    if (probe == nullptr) {
        PyErr_Clear();
        return false;
    }
    const auto* probe_header = reinterpret_cast<const Header*>(probe) - 1;
    const std::uintptr_t first_head = probe_header->next;
    Py_DECREF(probe);
    if (first_head == 0) return false;
    for (std::size_t generation = 0; generation < kGenerations; ++generation) {
        const auto* head =
            reinterpret_cast<const Header*>(first_head + generation * kGenerationBytes);
        const Header* at = head;
        while (true) {
            const auto* next = reinterpret_cast<const Header*>(at->next);
            if (next == nullptr ||
                (next->prev & ~kPrevFlags) != reinterpret_cast<std::uintptr_t>(at)) {
                out->clear();
                return false;  // not a list as expected: this interpreter lays them out otherwise
            }
            if (next == head) break;
            out->push_back(reinterpret_cast<PyObject*>(const_cast<Header*>(next) + 1));
            at = next;
        }
    }
    return true;
#endif
}

}  // namespace memslim::cpython
