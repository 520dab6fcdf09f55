// heap_snapshot.cpp — heap walk, roots, dominators and edge labels (see heap_snapshot.h).
#include "cpython/heap_snapshot.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <span>

#include "cpython/census_advice.h"
#include "cpython/deep_size.h"
#include "cpython/frames.h"
#include "cpython/object_layout.h"
#include "cpython/referents.h"
#include "cpython/tracker.h"
#include "engine/progress.h"

namespace memslim::cpython {

namespace {

// Type ids for nodes: a small direct-mapped cache in front of a map.
class TypeIds {
  public:
    explicit TypeIds(std::vector<PyTypeObject*>& table) : table_(table) {}
    std::uint32_t id(PyTypeObject* tp) {
        const std::size_t slot = (reinterpret_cast<std::uintptr_t>(tp) >> 4) & (kCache - 1);
        if (cache_[slot].first == tp) return cache_[slot].second;
        auto [it, inserted] = ids_.try_emplace(tp, static_cast<std::uint32_t>(table_.size()));
        if (inserted) {
            Py_INCREF(tp);
            table_.push_back(tp);
        }
        cache_[slot] = {tp, it->second};
        return it->second;
    }

  private:
    static constexpr std::size_t kCache = 256;
    std::vector<PyTypeObject*>& table_;
    std::unordered_map<PyTypeObject*, std::uint32_t> ids_;
    std::pair<PyTypeObject*, std::uint32_t> cache_[kCache] = {};
};

// The state of a heap walk while tp_traverse reports referents.
struct Walk {
    std::vector<std::uintptr_t>* addresses;
    engine::AddressIndex* index;
    // Per node, its referrers inside the heap minus its reference count (modulo 2**32): each
    // edge adds one, and the node's own visit subtracts its count, so that once the walk ends
    // a negative value (as int32) marks a reference from outside the heap. Reading the counts
    // in a pass of their own cost a cache miss per object (a tenth of a census child's walk).
    std::vector<std::uint32_t>* incoming;
    std::vector<engine::NodeId>* targets;                 // the CSR being built, node by node
    PyObject* exclude = nullptr;                          // the GC's object list: memslim's own
    std::vector<std::uintptr_t>* frame_locals = nullptr;  // leaves among them (folding)
    std::vector<PyObject*> referents;  // of the object being visited (gather_edge)
    PyObject* focus = nullptr;         // see HeapSnapshot::take
    std::uint32_t focus_referrers = 0;
    // Folding leaves (HeapSnapshot::take): the bytes folded into the node being visited, and
    // what the walk needs to tally them.
    struct Fold {
        std::span<const std::uintptr_t> frame_leaves;
        ObjectSizer* sizer;
        TypeIds* type_ids;
        bool with_sites;
        ObjectVisitor* visitor;
        std::vector<std::pair<std::uint64_t, std::uint64_t>>* by_type;
        std::unordered_map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>>* by_site;
        std::uint64_t here = 0;          // bytes folded into the node being visited
        std::uint64_t here_tracked = 0;  // of those, at a known site (with_sites)
        bool in_array = false;   // that node is a NumPy array (ObjectVisitor::object)
    };
    Fold* fold = nullptr;
};

// Whether `o`, a referent of a node (neither static nor immortal), is folded into it: no
// references of its own, exactly one reference, not a running frame's local (a frame object,
// when one exists, would report it too), and under kFoldBelow bytes (its size, in `size`).
bool folds(PyObject* o, std::span<const std::uintptr_t> frame_leaves, ObjectSizer& sizer,
           std::uint64_t* size) {
    if (Py_REFCNT(o) != 1 || PyObject_IS_GC(o) || array_with_referents(o) ||
        std::binary_search(frame_leaves.begin(), frame_leaves.end(),
                           reinterpret_cast<std::uintptr_t>(o))) {
        return false;
    }
    *size = sizer.size(o);
    return *size < HeapSnapshot::kFoldBelow;
}

// Folds `o` into the node being visited if it is a leaf to fold (see HeapSnapshot::take).
bool fold_leaf(Walk::Fold& fold, PyObject* o) {
    std::uint64_t size = 0;
    if (!folds(o, fold.frame_leaves, *fold.sizer, &size)) return false;
    const std::uint32_t type = fold.type_ids->id(Py_TYPE(o));
    if (type >= fold.by_type->size()) fold.by_type->resize(type + 1);
    auto& by_type = (*fold.by_type)[type];
    by_type.first += 1;
    by_type.second += size;
    engine::SiteId site = kUnknownSite;
    if (fold.with_sites) {
        if (!site_of_object(o, &site)) site = kUnknownSite;
        if (site != kUnknownSite) {
            auto& row = (*fold.by_site)[(std::uint64_t{type} << 32) | site];
            row.first += 1;
            row.second += size;
            fold.here_tracked += size;
        }
    }
    if (fold.visitor != nullptr) fold.visitor->object(o, site, size, fold.in_array);
    fold.here += size;
    return true;
}

engine::NodeId node_for(Walk& walk, PyObject* o) {
    const auto [node, added] =
        walk.index->find_or_add(reinterpret_cast<std::uintptr_t>(o), *walk.addresses);
    if (added) walk.incoming->push_back(0);
    return node;
}

// An object's referents are gathered first and looked up together, their index slots
// prefetched: the lookups' cache misses overlap instead of following one another.
int gather_edge(PyObject* child, void* arg) {
    auto& walk = *static_cast<Walk*>(arg);
    if (child == walk.exclude || is_static_or_immortal(child)) return 0;
    if (child == walk.focus) ++walk.focus_referrers;
    if (walk.fold != nullptr && fold_leaf(*walk.fold, child)) return 0;
    walk.index->prefetch(reinterpret_cast<std::uintptr_t>(child));
    walk.referents.push_back(child);
    return 0;
}

// Whether `o`, a referent, is a small leaf that many objects share (a dict key every record
// of a JSON document holds, a common number) with more than kSharedLeaf references: a str or
// bytes of under kFoldBelow / 2 bytes of data, a float, an int under kFoldBelow bytes. (A large
// one keeps its edges: it can be a top retainer, whose path must go through a referrer.) Read
// per edge: no size is computed for a str, bytes or float.
bool shared_leaf(PyObject* o, ObjectSizer& sizer) {
    if (Py_REFCNT(o) <= static_cast<Py_ssize_t>(HeapSnapshot::kSharedLeaf)) return false;
    if (PyUnicode_CheckExact(o)) {
        return static_cast<std::uint64_t>(PyUnicode_GET_LENGTH(o)) * PyUnicode_KIND(o) <
               HeapSnapshot::kFoldBelow / 2;
    }
    if (PyBytes_CheckExact(o)) {
        return static_cast<std::uint64_t>(PyBytes_GET_SIZE(o)) < HeapSnapshot::kFoldBelow / 2;
    }
    if (PyFloat_CheckExact(o)) return true;
    return PyLong_CheckExact(o) && sizer.size(o) < HeapSnapshot::kFoldBelow;
}

void add_edges(Walk& walk) {
    for (PyObject* child : walk.referents) {
        const engine::NodeId node = node_for(walk, child);
        // Folding (a census): a shared leaf gets a node but no edges. Its reference count,
        // matched by no referrer in the heap, then makes it a root (see HeapSnapshot::take).
        if (walk.fold != nullptr && shared_leaf(child, *walk.fold->sizer)) continue;
        walk.targets->push_back(node);
        (*walk.incoming)[node] += 1;
    }
    walk.referents.clear();
}

}  // namespace

HeapSnapshot::~HeapSnapshot() {
    for (PyTypeObject* tp : type_table_) Py_XDECREF(tp);
}

std::size_t HeapSnapshot::memory_now() const {
    // Sizes, not capacities: reserved pages that were never written are not resident.
    return addresses_.size() * 8 + type_ids_.size() * 4 + sizes_.size() * 4 + sites_.size() * 4 +
           folded_.size() * 4 + folded_tracked_.size() * 4 + folded_sites_.size() * 48 +
           index_.memory_bytes() + graph_.memory_bytes() + tree_.idom.size() * 4 +
           tree_.retained.size() * 8;
}

bool HeapSnapshot::take(PyObject* focus, bool with_sites, bool fold_leaves,
                        ObjectVisitor* visitor) {
    const auto began = std::chrono::steady_clock::now();
    // In a census child the GC's lists are read in place: gc.get_objects() takes a reference
    // to each object, a write that made the child copy every page holding a container (half of
    // its own pages after importing scikit-learn). Elsewhere the list's references keep every
    // object alive while the walk runs code (a __sizeof__ of the program's).
    std::vector<PyObject*> in_place;
    PyObject* tracked = nullptr;
    std::span<PyObject* const> listed_objects;
    if (in_census_child() && gc_objects_in_place(&in_place)) {
        listed_objects = in_place;
    } else {
        PyObject* gc = PyImport_ImportModule("gc");
        if (gc == nullptr) return false;
        tracked = PyObject_CallMethod(gc, "get_objects", nullptr);
        Py_DECREF(gc);
        if (tracked == nullptr) return false;
        listed_objects = {reinterpret_cast<PyListObject*>(tracked)->ob_item,
                          static_cast<std::size_t>(PyList_GET_SIZE(tracked))};
    }
    const int gc_was_enabled = PyGC_Disable();
    // A census child walks while the program runs on: no line of its own (engine/progress.h).
    engine::Progress progress("heap census", in_census_child() ? -1 : STDERR_FILENO);

    // Per-node arrays are reserved generously: pages never written are never resident. The
    // GC lists only containers; the objects they hold (str, int, float, bytes, and dicts of
    // those, which the GC untracks) can be many more: while tracking, the traced bytes bound
    // their number (an object takes at least 16 bytes, 32 or more nearly always). An index
    // sized too small was rebuilt again and again (a fifth of the walk on 3 million objects).
    // Python's domain only: NumPy's buffers and native memory are few blocks for many bytes
    // (a NumPy job's 780 MB of arrays sized the index for 12 million objects: 128 MB written by
    // every census child, for 69,000 objects).
    const std::size_t listed = listed_objects.size();
    const auto traced = static_cast<std::size_t>(std::max<std::int64_t>(
        live_bytes_by_domain()[static_cast<std::size_t>(Domain::kPython)], 0));
    const std::size_t expected = std::max(listed * 6, traced / 16) + (std::size_t{1} << 20);
    addresses_.assign(1, 0);
    addresses_.reserve(expected);
    std::vector<std::uint32_t> incoming{0};
    incoming.reserve(expected);
    std::vector<engine::NodeId> targets;
    targets.reserve(expected);
    std::vector<std::uint32_t> begin{0, 0};  // node 0's (the root's) edges are kept apart
    begin.reserve(expected + 1);
    // Folding leaves leaves about one node in six on data-heavy heaps (see take()): a node per
    // 350-600 traced bytes on the bench jobs (the JSON/CSV job: 427,000 nodes for 245 MiB, where
    // a node per 256 bytes sized the index 8 MiB at a fifth full). The index grows if this is
    // short (by doubling: one move or two).
    index_ = engine::AddressIndex(std::max(listed * 2, traced / (fold_leaves ? 512 : 64)));
    fold_leaves_ = fold_leaves;
    frame_leaves_.clear();
    Walk walk{&addresses_, &index_, &incoming, &targets, tracked, &frame_leaves_, {}, focus};
    for (PyObject* o : listed_objects) {
        if (o != tracked && !is_static_or_immortal(o)) node_for(walk, o);
    }
    listed_objects = {};
    std::vector<PyObject*>().swap(in_place);
    // The list's references are memslim's, not the program's: drop them (and its memory) now,
    // before reference counts are compared with referrers in the heap. No object dies: each
    // one the GC tracks is referenced by something else too.
    Py_XDECREF(tracked);
    walk.exclude = nullptr;
    // Objects held only by running frames' locals (a str, an array, bytes: not tracked by the
    // GC, and referenced by no tracked object) are part of the heap too.
    visit_frame_locals(
        [](PyObject* o, void* arg) {
            auto& w = *static_cast<Walk*>(arg);
            if (o != w.exclude && !is_static_or_immortal(o)) {
                node_for(w, o);
                if (!PyObject_IS_GC(o))
                    w.frame_locals->push_back(reinterpret_cast<std::uintptr_t>(o));
            }
            return 0;
        },
        &walk);
    std::sort(frame_leaves_.begin(), frame_leaves_.end());

    // Nodes are visited in id order, so each one's edges are appended as one CSR row.
    sizer_ = std::make_unique<ObjectSizer>();
    ObjectSizer& sizer = *sizer_;
    TypeIds type_ids(type_table_);
    folded_.clear();
    folded_tracked_.clear();
    folded_types_.clear();
    folded_sites_.clear();
    Walk::Fold fold{frame_leaves_, &sizer,         &type_ids,     with_sites,
                    visitor,       &folded_types_, &folded_sites_};
    if (fold_leaves) {
        walk.fold = &fold;
        folded_.reserve(expected);
        folded_.push_back(0);  // the root's
        if (with_sites) folded_tracked_.push_back(0);
    }
    sizes_.clear();
    sizes_.push_back(0);
    sizes_.reserve(expected);
    type_ids_.assign(1, 0);
    type_ids_.reserve(expected);
    type_table_.push_back(nullptr);  // the root's type
    // Each object's allocation site is looked up now, while its memory is in the cache.
    sites_.clear();
    if (with_sites) {
        sites_.reserve(expected);
        sites_.push_back(kUnknownSite);
    }
    // Each node's object is read kAhead nodes before its turn: nodes are numbered as they are
    // found, so consecutive ones lie anywhere in memory (reading each object's header as its
    // turn came was a quarter of the walk's own time on 300,000 dicts).
    constexpr std::size_t kAhead = 8;
    for (engine::NodeId node = 1; node < addresses_.size(); ++node) {
        if (node + kAhead < addresses_.size()) {
            __builtin_prefetch(reinterpret_cast<const void*>(addresses_[node + kAhead]));
        }
        auto* o = reinterpret_cast<PyObject*>(addresses_[node]);
        incoming[node] -= static_cast<std::uint32_t>(Py_REFCNT(o));
        type_ids_.push_back(type_ids.id(Py_TYPE(o)));
        if (with_sites) {
            engine::SiteId site = kUnknownSite;
            if (!site_of_object(o, &site)) site = kUnknownSite;
            sites_.push_back(site);
        }
        const std::size_t size = sizer.size(o);
        if (visitor != nullptr) {
            visitor->object(o, with_sites ? sites_.back() : kUnknownSite, size, false);
        }
        sizes_.push_back(size);
        fold.in_array = fold_leaves && array_with_referents(o);
        visit_owned(o, gather_edge, &walk);
        add_edges(walk);
        if (fold_leaves) {
            folded_.push_back(fold.here);
            fold.here = 0;
            if (with_sites) folded_tracked_.push_back(fold.here_tracked);
            fold.here_tracked = 0;
        }
        progress.update("walking objects", node);
        begin.push_back(static_cast<std::uint32_t>(targets.size()));
    }
    const std::size_t n = addresses_.size();
    index_.release();  // rebuilt on demand by node_of(): not needed from here on
    if (visitor != nullptr) visitor->walked();
    peak_memory_bytes_ = memory_now() + incoming.size() * 4;

    // Roots: references from outside the heap (more references than referrers in the heap).
    // They become the virtual root's edges, kept apart from the rows already built.
    // (A reference count beyond 2**31 would be misread; only immortal objects have one, and
    // the walk leaves them out.) The focus is a root only when nothing in the heap refers to
    // it: the caller's own reference would make it one otherwise.
    std::vector<engine::NodeId> roots;
    for (engine::NodeId node = 1; node < n; ++node) {
        if (static_cast<std::int32_t>(incoming[node]) >= 0) continue;
        if (walk.focus_referrers > 0 &&
            addresses_[node] == reinterpret_cast<std::uintptr_t>(focus)) {
            continue;
        }
        roots.push_back(node);
    }
    std::vector<std::uint32_t>().swap(incoming);
    graph_ = engine::HeapGraph(std::move(begin), std::move(targets), std::move(roots));
    const auto walked = std::chrono::steady_clock::now();
    progress.step("computing dominators");
    tree_ = engine::dominators(graph_, 0,
                               [this](engine::NodeId v) { return size(v) + folded_bytes(v); });
    walk_seconds_ = std::chrono::duration<double>(walked - began).count();
    dominators_seconds_ =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - walked).count();
    // The dominators' peak: predecessor lists, order and dominators by rank, on top of what is
    // kept (and before idom and retained exist).
    const std::size_t dominator_peak =
        memory_now() - tree_.retained.size() * 8 - tree_.idom.size() * 4 + tree_.peak_bytes;
    peak_memory_bytes_ = std::max({peak_memory_bytes_, dominator_peak, memory_now()});
    if (gc_was_enabled) PyGC_Enable();
    return true;
}

void HeapSnapshot::for_each_folded(
    engine::NodeId node, const std::function<void(PyObject*, std::uint64_t)>& visit) const {
    if (!fold_leaves_ || folded_bytes(node) == 0) return;
    struct State {
        const HeapSnapshot* self;
        const std::function<void(PyObject*, std::uint64_t)>* visit;
    } state{this, &visit};
    visit_owned(
        reinterpret_cast<PyObject*>(addresses_[node]),
        [](PyObject* child, void* arg) {
            const auto& st = *static_cast<State*>(arg);
            std::uint64_t size = 0;
            if (!is_static_or_immortal(child) &&
                folds(child, st.self->frame_leaves_, *st.self->sizer_, &size)) {
                (*st.visit)(child, size);
            }
            return 0;
        },
        &state);
}

std::vector<std::uint64_t> HeapSnapshot::retained_tracked() const {
    if (sites_.empty()) return std::vector<std::uint64_t>(tree_.retained.size(), 0);
    return engine::subtree_sums(tree_, [this](engine::NodeId v) -> std::uint64_t {
        const std::uint64_t own = sites_[v] != kUnknownSite ? size(v) : 0;
        return own + (v < folded_tracked_.size() ? folded_tracked_[v] : 0);
    });
}

std::uint64_t HeapSnapshot::folded_objects() const {
    std::uint64_t objects = 0;
    for (const auto& [count, bytes] : folded_types_) objects += count;
    return objects;
}

std::vector<FoldedRow> HeapSnapshot::folded_by_type() const {
    std::vector<FoldedRow> rows;
    for (std::size_t id = 0; id < folded_types_.size(); ++id) {
        const auto& [count, bytes] = folded_types_[id];
        if (count > 0) rows.push_back({type_table_[id], kUnknownSite, count, bytes});
    }
    return rows;
}

std::vector<FoldedRow> HeapSnapshot::folded_by_site() const {
    std::vector<FoldedRow> rows;
    rows.reserve(folded_sites_.size());
    for (const auto& [key, row] : folded_sites_) {
        rows.push_back({type_table_[key >> 32], static_cast<engine::SiteId>(key & 0xFFFFFFFFu),
                        row.first, row.second});
    }
    return rows;
}

engine::NodeId HeapSnapshot::node_of(const PyObject* o) const {
    if (!indexed_) {
        index_.rebuild(addresses_, 1);
        indexed_ = true;
    }
    const std::uint32_t node = index_.find(reinterpret_cast<std::uintptr_t>(o), addresses_);
    return node == engine::AddressIndex::kNone ? engine::kNoNode : node;
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
    bool base = false;
    if (PyObject* index = array_step(parent, child, &base); index != nullptr) {
        return {"index", index};
    }
    if (base) return {"attribute", PyUnicode_FromString("base")};
    return {"referent", nullptr};
}

}  // namespace memslim::cpython
