// heap_snapshot.h — every live object, its type, true size and referents, as a graph with a
// virtual root; census by type, retained sizes (dominator tree) and why-alive paths.
#pragma once

#include <Python.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "cpython/deep_size.h"
#include "engine/address_index.h"
#include "engine/frame_tree.h"
#include "engine/heap_graph.h"

namespace memslim::cpython {

// Told of every object a walk reaches, node or folded leaf (see HeapSnapshot::take), in walk
// order, while its memory is in the cache.
class ObjectVisitor {
  public:
    virtual ~ObjectVisitor() = default;
    // `in_array`: `o` was folded into a NumPy array that holds it as an item (a pandas column's
    // value, made by the library that made the column).
    virtual void object(PyObject* o, engine::SiteId site, std::uint64_t size, bool in_array) = 0;
    // The walk is over (the dominators come next): what only the walk needed can go.
    virtual void walked() {}
};

// The objects folded into their referrer, by type or by (type, site): count and bytes.
struct FoldedRow {
    PyTypeObject* type;
    engine::SiteId site;  // kUnknownSite in rows by type
    std::uint64_t count;
    std::uint64_t bytes;
};

// Byte counts per node, in 4 bytes each; the few of 4 GiB or more in a map beside them.
class NodeBytes {
  public:
    void clear() {
        small_.clear();
        big_.clear();
    }
    void reserve(std::size_t nodes) { small_.reserve(nodes); }
    void push_back(std::uint64_t bytes) {
        if (bytes < kBig) {
            small_.push_back(static_cast<std::uint32_t>(bytes));
        } else {
            big_[static_cast<engine::NodeId>(small_.size())] = bytes;
            small_.push_back(kBig);
        }
    }
    [[nodiscard]] std::uint64_t operator[](engine::NodeId node) const {
        return small_[node] != kBig ? small_[node] : big_.at(node);
    }
    [[nodiscard]] std::size_t size() const { return small_.size(); }

  private:
    static constexpr std::uint32_t kBig = 0xFFFFFFFFu;
    std::vector<std::uint32_t> small_;
    std::unordered_map<engine::NodeId, std::uint64_t> big_;
};

class HeapSnapshot {
  public:
    HeapSnapshot() = default;
    ~HeapSnapshot();
    HeapSnapshot(const HeapSnapshot&) = delete;
    HeapSnapshot& operator=(const HeapSnapshot&) = delete;

    // Walks the heap: all objects the cyclic GC tracks and the untracked ones they reach (each
    // once; interpreter-static and immortal objects left out), then computes dominators. The
    // virtual root (node 0) points to every object referenced from outside the heap (its
    // reference count exceeds its referrers in the heap: running frames' locals, C code).
    // Runs no Python code after collecting the GC's object list; the cyclic GC is paused. Sets
    // a Python exception and returns false on failure. Needs the GIL. `focus` (optional) is an
    // object being asked about: the caller's own reference to it is not a root, so when it
    // has referrers in the heap its path goes through them. `with_sites` (while tracking)
    // also looks up each object's allocation site, in the same pass (see sites()).
    //
    // `fold_leaves`: an object that holds no references and has exactly one (a str, an int,
    // a float, bytes under kFoldBelow bytes), reached from a node, gets no node of its own: its
    // only referrer dominates it, so its bytes are added to that node's retained size
    // (folded_bytes) and to the census by type and site (folded_by_type, folded_by_site),
    // with the same totals and retained sizes as without folding. On a CSV job's heap, 5 of 6
    // objects were such leaves: the census child's arrays and walk shrink with them.
    // With folding, a small str, bytes, int or float (see kFoldBelow) held by more than
    // kSharedLeaf references (the dict keys that every record of a JSON document shares) gets
    // no edges either: its references are taken as from outside the heap, so it is a root, and
    // its bytes are in no container's retained size. Its in-edges were most of a JSON job's
    // graph (2.4 million of 3.3 million), for a few kilobytes of retained size, and the census
    // child's largest array at its peak. Large ones keep their edges and their paths.
    // `visitor` (optional) is told of every object.
    bool take(PyObject* focus = nullptr, bool with_sites = false, bool fold_leaves = false,
              ObjectVisitor* visitor = nullptr);

    // Leaves of this many bytes or more keep their node: a large str or bytes object can be a
    // top retainer, with its own path.
    static constexpr std::uint64_t kFoldBelow = 4096;
    // Leaves with more references than this are roots of a census's graph (see take()).
    static constexpr std::uint64_t kSharedLeaf = 64;

    // Nodes, the virtual root left out (folded leaves are not nodes).
    [[nodiscard]] std::size_t objects() const { return addresses_.size() - 1; }
    [[nodiscard]] std::uint64_t folded_objects() const;
    // The true size of any object (as a node's size is measured).
    [[nodiscard]] std::uint64_t true_size(PyObject* o) const { return sizer_->size(o); }
    // Bytes of the leaves folded into `node` (0 without folding).
    [[nodiscard]] std::uint64_t folded_bytes(engine::NodeId node) const {
        return node < folded_.size() ? folded_[node] : 0;
    }
    // Per node, what it retains of the objects allocated while tracking (their allocation site
    // known): its own bytes and folded leaves only when they have a site. From a walk taken
    // with_sites (all zeros otherwise). What keeps a test's leak alive is the largest of
    // these, not the largest retainer of a heap the test only added to.
    [[nodiscard]] std::vector<std::uint64_t> retained_tracked() const;
    [[nodiscard]] std::vector<FoldedRow> folded_by_type() const;
    [[nodiscard]] std::vector<FoldedRow> folded_by_site() const;
    // Calls `visit(leaf, size)` for each leaf folded into `node` (found again by its referents).
    void for_each_folded(engine::NodeId node,
                         const std::function<void(PyObject*, std::uint64_t)>& visit) const;
    [[nodiscard]] PyTypeObject* type(engine::NodeId node) const {
        return type_table_[type_ids_[node]];
    }
    [[nodiscard]] std::uint64_t size(engine::NodeId node) const { return sizes_[node]; }
    [[nodiscard]] std::uint64_t retained(engine::NodeId node) const { return tree_.retained[node]; }
    [[nodiscard]] engine::NodeId idom(engine::NodeId node) const { return tree_.idom[node]; }
    [[nodiscard]] const engine::HeapGraph& graph() const { return graph_; }
    [[nodiscard]] const engine::DominatorTree& tree() const { return tree_; }
    // The node of the object `o` when the snapshot was taken, or kNoNode. The first call after
    // take() indexes the addresses again (the index is dropped while dominators run).
    [[nodiscard]] engine::NodeId node_of(const PyObject* o) const;
    [[nodiscard]] std::uintptr_t address(engine::NodeId node) const { return addresses_[node]; }
    // The node's allocation site (kUnknownSite when not known), from a walk taken with_sites;
    // empty otherwise.
    [[nodiscard]] std::span<const engine::SiteId> sites() const { return sites_; }
    // Peak bytes of the analysis (graph, dominators, per-node arrays) while take() ran.
    [[nodiscard]] std::size_t memory_bytes() const { return peak_memory_bytes_; }
    [[nodiscard]] double walk_seconds() const { return walk_seconds_; }
    [[nodiscard]] double dominators_seconds() const { return dominators_seconds_; }

  private:
    [[nodiscard]] std::size_t memory_now() const;

    std::vector<std::uintptr_t> addresses_;  // node 0: the virtual root (address 0)
    std::vector<std::uint32_t> type_ids_;    // index into type_table_
    std::vector<PyTypeObject*> type_table_;  // strong references
    NodeBytes sizes_;
    std::vector<engine::SiteId> sites_;  // with_sites only
    bool fold_leaves_ = false;
    NodeBytes folded_;          // per node, with fold_leaves
    NodeBytes folded_tracked_;  // of those, at a known site (with_sites too)
    // Folded leaves by type id (index into type_table_) and by (type id << 32 | site).
    std::vector<std::pair<std::uint64_t, std::uint64_t>> folded_types_;
    std::unordered_map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>> folded_sites_;
    std::vector<std::uintptr_t> frame_leaves_;    // sorted: leaves held by running frames' locals
    mutable std::unique_ptr<ObjectSizer> sizer_;  // its cache of types grows
    mutable engine::AddressIndex index_;
    mutable bool indexed_ = false;
    engine::HeapGraph graph_;
    engine::DominatorTree tree_;
    std::size_t peak_memory_bytes_ = 0;
    double walk_seconds_ = 0;
    double dominators_seconds_ = 0;
};

// One step of a why-alive path, described for people: how `parent` refers to `child`.
// kind is one of "root", "key", "dict key", "index", "attribute", "__dict__", "referent";
// detail is the key, index, attribute or local-variable name (None when there is none).
struct PathStep {
    const char* kind;
    PyObject* detail;  // new reference or nullptr
};

// Labels the edge parent -> child (both alive). `parent` nullptr means the virtual root: then
// running frames are searched for a local variable holding `child`. Runs no Python code.
PathStep describe_edge(PyObject* parent, PyObject* child);

}  // namespace memslim::cpython
