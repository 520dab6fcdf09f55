// census_advice.h — facts about the objects of a heap snapshot that memory advice needs: how
// classes' instances store their attributes, what lists hold and how full they are, equal
// strings held in distinct objects, dicts that repeat one key set, large NumPy arrays, and the
// cyclic garbage waiting for the collector (with the attributes that close its cycles).
//
// Everything is read in place while the snapshot's objects are alive: no Python code runs,
// nothing is created (no instance __dict__, no new strings). Object references in the results
// are borrowed from objects the caller keeps alive (types, interned attribute names) or must be
// converted before any Python code runs.
#pragma once

#include <Python.h>

#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "cpython/heap_snapshot.h"
#include "engine/frame_tree.h"
#include "engine/hash_set64.h"
#include "engine/tally.h"

namespace memslim::cpython {

constexpr engine::SiteId kUnknownSite = 0xFFFFFFFFu;

// Instances of one class whose attributes live in an instance dict or values array.
struct ClassFacts {
    PyTypeObject* type = nullptr;
    std::uint64_t count = 0;
    std::uint64_t bytes = 0;              // the instances' own true sizes (values array included)
    std::uint64_t with_dict = 0;          // instances whose __dict__ was materialised
    std::uint64_t dict_bytes = 0;         // those dicts' true sizes
    std::uint64_t weakly_referenced = 0;  // instances some weak reference points to
    // Distinct sets of attribute names (borrowed, in key order) and how many instances have
    // each, most common first; at most kMaxAttributeSets (the rest are counted in other_sets).
    std::vector<std::pair<std::vector<PyObject*>, std::uint64_t>> attribute_sets;
    std::uint64_t other_sets = 0;
    static constexpr std::size_t kMaxAttributeSets = 8;
};

// The lists allocated at one site.
struct ListFacts {
    engine::SiteId site = kUnknownSite;
    std::uint64_t lists = 0;
    std::uint64_t empty = 0;  // lists of length 0
    std::uint64_t bytes = 0;  // own true sizes, item arrays included
    std::uint64_t items = 0;
    std::uint64_t spare_slots = 0;  // allocated but unused item slots
    std::uint64_t float_items = 0;
    std::uint64_t int_items = 0;  // exact ints that fit in 64 bits, not shared interpreter ones
    // Numbers referenced by this list and nothing else (what an array would free), and bytes.
    std::uint64_t owned_numbers = 0;
    std::uint64_t owned_number_bytes = 0;
    std::uint64_t resized_elsewhere = 0;  // item array last (re)allocated on another line
};

// The str objects allocated at one site.
struct StringFacts {
    engine::SiteId site = kUnknownSite;
    std::uint64_t strings = 0;
    std::uint64_t bytes = 0;
    std::uint64_t duplicates = 0;  // equal in value to an earlier seen str of the same site
    std::uint64_t duplicate_bytes = 0;
    std::vector<PyObject*> examples;  // borrowed duplicate values, at most 3
};

// The plain dicts allocated at one site (instance and module dicts left out).
struct DictFacts {
    engine::SiteId site = kUnknownSite;
    std::uint64_t dicts = 0;
    std::uint64_t bytes = 0;
    std::uint64_t key_sets = 0;  // distinct key sets seen (counted up to a cap)
    // The most common key set (all str keys): its keys (borrowed), dicts, bytes and items.
    std::vector<PyObject*> common_keys;
    std::uint64_t common_count = 0;
    std::uint64_t common_bytes = 0;
};

// Unreachable objects (cyclic garbage) of one type at one site.
struct GarbageFacts {
    PyTypeObject* type = nullptr;
    engine::SiteId site = kUnknownSite;
    std::uint64_t count = 0;
    std::uint64_t bytes = 0;
};

// An attribute of a garbage instance that refers directly to another garbage instance.
struct CycleEdge {
    PyTypeObject* from = nullptr;
    std::string attribute;
    PyTypeObject* to = nullptr;
    std::uint64_t count = 0;
    std::uint64_t targets = 0;  // distinct objects referred to
    // Among the live objects (reachable at the census), the `to` objects that live `from`
    // objects refer to by `attribute`, and how many of those nothing else keeps reachable from
    // a root: what a weak `attribute` would free while the program still reads it (a tree that
    // the program holds by its leaves). Counted for the kMaxChecked edges seen most often.
    std::uint64_t live_targets = 0;
    std::uint64_t stranded = 0;
    bool checked = false;
    static constexpr std::size_t kMaxChecked = 4;
};

struct CensusAdvice {
    std::vector<ClassFacts> classes;   // largest bytes first
    std::vector<ListFacts> lists;      // by site, largest bytes first
    std::vector<StringFacts> strings;  // by site, most duplicate bytes first
    std::vector<DictFacts> dicts;      // by site, largest bytes first
    std::vector<GarbageFacts> garbage;
    std::vector<CycleEdge> cycle_edges;
    std::vector<engine::NodeId> arrays;  // NumPy arrays of at least kLargeArrayBytes
    // Instances of a class named DataFrame, at most kMaxFrames (those that retain the most):
    // pandas' frames, told apart from other DataFrame classes by the caller. Not chosen by
    // retained size alone: a frame whose columns something else also holds (pd.concat of it,
    // running at the peak) retains little of them.
    std::vector<engine::NodeId> frames;
    static constexpr std::size_t kMaxFrames = 256;
    // The bytes of the largest group of garbage objects linked to each other (one dead tree,
    // say): what could not be freed at once even if each group were freed as soon as it died.
    std::uint64_t largest_garbage_group = 0;
    std::uint64_t garbage_bytes = 0;  // all of the garbage (the rows keep the larger parts)
    std::uint64_t garbage_objects = 0;
    static constexpr std::uint64_t kLargeArrayBytes = 1 << 20;
};

// Equal strings held in distinct objects, by allocation site. It is the walk's visitor
// (HeapSnapshot::take): it sees every str, those folded into their referrer included.
class StringCensus final : public ObjectVisitor {
  public:
    StringCensus() = default;
    StringCensus(const StringCensus&) = delete;  // row_of_ refers to by_site_
    StringCensus& operator=(const StringCensus&) = delete;
    void object(PyObject* o, engine::SiteId site, std::uint64_t size, bool in_array) override;
    // Counts the strings still waiting (after it, every string seen is counted) and frees the
    // set of hashes before the dominators run beside it (8 MiB on the JSON/CSV bench job's
    // census, in the child whose RSS is the run's largest).
    void walked() override;

  private:
    friend void collect_census_advice(const HeapSnapshot&, std::span<const engine::SiteId>,
                                      std::uint64_t, StringCensus&, CensusAdvice&);
    // A string seen but not yet looked up: its slot in `seen_` is being prefetched.
    struct Pending {
        PyObject* string;
        engine::SiteId site;
        std::uint64_t size;
        std::uint64_t hash;  // of the characters
        std::uint64_t key;   // in seen_: the hash and the site
    };
    // Strings wait this many strings behind the walk before their lookup, in the order seen.
    static constexpr std::size_t kAhead = 8;
    void count(const Pending& string);  // the lookup and the row's counts

    std::array<Pending, kAhead> pending_{};
    std::size_t queued_ = 0;  // strings queued since the walk began; the newest kAhead wait
    std::map<engine::SiteId, StringFacts> by_site_;
    // The last site's row remembered: strings come in runs of one site.
    engine::LastRow<std::map<engine::SiteId, StringFacts>> row_of_{by_site_};
    engine::HashSet64 seen_;  // the strings' hashes
};

// Collects the facts from a snapshot whose objects are all still alive, and `strings`, the
// walk's visitor (every string counted: take() ends the walk with walked()). `node_site` gives
// each node's allocation site (kUnknownSite when not known).
// Keeps the rows with at least `min_count` objects. Needs the GIL; runs no Python code.
void collect_census_advice(const HeapSnapshot& snapshot, std::span<const engine::SiteId> node_site,
                           std::uint64_t min_count, StringCensus& strings, CensusAdvice& out);

}  // namespace memslim::cpython
