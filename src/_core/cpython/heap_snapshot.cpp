// heap_snapshot.cpp — heap walk, roots, dominators and edge labels (see heap_snapshot.h).
#include "cpython/heap_snapshot.h"

#include <algorithm>
#include <chrono>

#include "cpython/deep_size.h"
#include "cpython/frames.h"
#include "cpython/object_layout.h"
#include "cpython/referents.h"

namespace memslim::cpython {

namespace {

struct Walk {
    std::unordered_map<std::uintptr_t, engine::NodeId>* index;
    std::vector<PyObject*>* objects;  // node -> object, borrowed during the walk
    std::vector<std::uint32_t>* incoming;
    std::vector<engine::NodeId>* from;
    std::vector<engine::NodeId>* to;
    engine::NodeId current = 0;
    PyObject* exclude = nullptr;  // the GC's object list: memslim's own
};

engine::NodeId node_for(Walk& walk, PyObject* o) {
    auto [it, inserted] = walk.index->try_emplace(
        reinterpret_cast<std::uintptr_t>(o), static_cast<engine::NodeId>(walk.objects->size()));
    if (inserted) {
        walk.objects->push_back(o);
        walk.incoming->push_back(0);
    }
    return it->second;
}

int visit_edge(PyObject* child, void* arg) {
    auto& walk = *static_cast<Walk*>(arg);
    if (child == walk.exclude || is_static_or_immortal(child)) return 0;
    const engine::NodeId node = node_for(walk, child);
    walk.from->push_back(walk.current);
    walk.to->push_back(node);
    (*walk.incoming)[node] += 1;
    return 0;
}

}  // namespace

HeapSnapshot::~HeapSnapshot() {
    for (PyTypeObject* tp : held_types_) Py_DECREF(tp);
}

bool HeapSnapshot::take(PyObject* focus) {
    const auto began = std::chrono::steady_clock::now();
    PyObject* gc = PyImport_ImportModule("gc");
    if (gc == nullptr) return false;
    PyObject* tracked = PyObject_CallMethod(gc, "get_objects", nullptr);
    Py_DECREF(gc);
    if (tracked == nullptr) return false;
    const int gc_was_enabled = PyGC_Disable();

    std::vector<PyObject*> objects{nullptr};  // node 0: the virtual root
    std::vector<std::uint32_t> incoming{0};
    std::vector<engine::NodeId> from, to;
    Walk walk{&index_, &objects, &incoming, &from, &to, 0, tracked};
    const Py_ssize_t listed = PyList_GET_SIZE(tracked);
    index_.reserve(static_cast<std::size_t>(listed) * 2);
    for (Py_ssize_t i = 0; i < listed; ++i) {
        PyObject* o = PyList_GET_ITEM(tracked, i);
        if (!is_static_or_immortal(o)) node_for(walk, o);
    }
    const std::size_t from_list = objects.size();
    // Objects held only by running frames' locals (a str, an array, bytes: not tracked by the
    // GC, and referenced by no tracked object) are part of the heap too.
    visit_frame_locals(
        [](PyObject* o, void* arg) {
            auto& w = *static_cast<Walk*>(arg);
            if (o != w.exclude && !is_static_or_immortal(o)) node_for(w, o);
            return 0;
        },
        &walk);

    ObjectSizer sizer;
    std::unordered_map<PyTypeObject*, bool> seen_types;
    sizes_.assign(1, 0);
    types_.assign(1, nullptr);
    addresses_.assign(1, 0);
    for (engine::NodeId node = 1; node < objects.size(); ++node) {
        PyObject* o = objects[node];
        PyTypeObject* tp = Py_TYPE(o);
        if (seen_types.try_emplace(tp, true).second) {
            Py_INCREF(tp);
            held_types_.push_back(tp);
        }
        types_.push_back(tp);
        sizes_.push_back(sizer.size(o));
        addresses_.push_back(reinterpret_cast<std::uintptr_t>(o));
        walk.current = node;
        visit_owned(o, visit_edge, &walk);
    }

    // Roots: references from outside the heap. The GC's list holds one reference to each
    // object it lists; that one is memslim's, not the program's.
    for (engine::NodeId node = 1; node < objects.size(); ++node) {
        const Py_ssize_t own = node < from_list ? 1 : 0;
        if (objects[node] == focus && incoming[node] > 0) continue;
        if (Py_REFCNT(objects[node]) - own > static_cast<Py_ssize_t>(incoming[node])) {
            from.push_back(0);
            to.push_back(node);
        }
    }
    graph_ = engine::HeapGraph(objects.size(), std::move(from), std::move(to));
    const auto walked = std::chrono::steady_clock::now();
    tree_ = engine::dominators(graph_, 0, sizes_);
    walk_seconds_ = std::chrono::duration<double>(walked - began).count();
    dominators_seconds_ =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - walked).count();

    Py_DECREF(tracked);
    if (gc_was_enabled) PyGC_Enable();
    return true;
}

engine::NodeId HeapSnapshot::node_of(const PyObject* o) const {
    auto it = index_.find(reinterpret_cast<std::uintptr_t>(o));
    return it == index_.end() ? engine::kNoNode : it->second;
}

std::size_t HeapSnapshot::memory_bytes() const {
    return addresses_.capacity() * 8 + types_.capacity() * 8 + sizes_.capacity() * 8 +
           index_.size() * 32 + graph_.memory_bytes() + tree_.idom.capacity() * 4 +
           tree_.retained.capacity() * 8;
}

PathStep describe_edge(PyObject* parent, PyObject* child) {
    if (parent == nullptr) return {"root", local_variable_holding(child)};
    if (PyDict_Check(parent)) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(parent, &pos, &k, &v)) {
            if (v == child) return {"key", Py_NewRef(k)};
            if (k == child) return {"dict key", nullptr};
        }
    }
    if (PyList_Check(parent)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(parent); ++i) {
            if (PyList_GET_ITEM(parent, i) == child) return {"index", PyLong_FromSsize_t(i)};
        }
    }
    if (PyTuple_Check(parent)) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(parent); ++i) {
            if (PyTuple_GET_ITEM(parent, i) == child) return {"index", PyLong_FromSsize_t(i)};
        }
    }
    if (managed_dict(parent) == child) return {"__dict__", nullptr};
    if (PyModule_Check(parent) && PyModule_GetDict(parent) == child) return {"__dict__", nullptr};
    if (PyObject* name = attribute_name_of(parent, child); name != nullptr) {
        return {"attribute", name};
    }
    return {"referent", nullptr};
}

}  // namespace memslim::cpython
