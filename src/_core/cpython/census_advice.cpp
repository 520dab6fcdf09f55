// census_advice.cpp — advice facts read from a live heap snapshot (see census_advice.h).
#include "cpython/census_advice.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "cpython/frames.h"
#include "cpython/object_layout.h"
#include "cpython/stack_index.h"
#include "cpython/tracker.h"
#include "engine/tally.h"

namespace memslim::cpython {

namespace {

using engine::kNoNode;
using engine::NodeId;
using engine::SiteId;

bool is_class_instance(PyTypeObject* tp) {
    return PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE) &&
           !PyType_FastSubclass(tp, Py_TPFLAGS_TYPE_SUBCLASS);
}

bool has_instance_attributes(PyTypeObject* tp) {
    return is_class_instance(tp) &&
           (PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT) || tp->tp_dictoffset != 0);
}

// A hash of a str's characters that writes nothing: PyObject_Hash stores the hash in a string
// that has none yet, and in a census child that write copies the string's page (most strings a
// program reads from a file are never hashed: on a CSV job, a copy of 250 MB).
std::size_t content_hash(PyObject* s) {
    const auto kind = static_cast<std::size_t>(PyUnicode_KIND(s));
    const std::string_view data(static_cast<const char*>(PyUnicode_DATA(s)),
                                static_cast<std::size_t>(PyUnicode_GET_LENGTH(s)) * kind);
    return std::hash<std::string_view>{}(data) ^ kind;
}

// A key equal for sites whose innermost frame is the same code object and line.
class SiteLines {
  public:
    std::uint64_t key(SiteId site) {
        auto [it, inserted] = cache_.try_emplace(site, 0);
        if (inserted) {
            const auto frames = site_frames(site);
            if (!frames.empty()) {
                auto* code = reinterpret_cast<PyCodeObject*>(frames[0].code);
                const auto line =
                    static_cast<std::uint64_t>(recorded_line_of(code, frames[0].instruction));
                it->second = (reinterpret_cast<std::uintptr_t>(code) << 20) ^ line ^ 1;
            }
        }
        return it->second;
    }

  private:
    std::unordered_map<SiteId, std::uint64_t> cache_;
};

void collect_classes(const HeapSnapshot& snapshot, std::vector<bool>& instance_dict,
                     CensusAdvice& out) {
    std::unordered_map<PyTypeObject*, std::size_t> row_of;
    std::vector<PyObject*> names;
    const std::size_t n = snapshot.objects() + 1;
    for (NodeId node = 1; node < n; ++node) {
        PyTypeObject* tp = snapshot.type(node);
        if (!has_instance_attributes(tp)) continue;
        auto* o = reinterpret_cast<PyObject*>(snapshot.address(node));
        auto [it, inserted] = row_of.try_emplace(tp, out.classes.size());
        if (inserted) {
            out.classes.emplace_back();
            out.classes.back().type = tp;
        }
        ClassFacts& row = out.classes[it->second];
        row.count += 1;
        row.bytes += snapshot.size(node);
        if (is_weakly_referenced(o)) row.weakly_referenced += 1;
        if (PyObject* dict = instance_attribute_names(o, names); dict != nullptr) {
            row.with_dict += 1;
            if (const NodeId d = snapshot.node_of(dict); d != kNoNode) {
                row.dict_bytes += snapshot.size(d);
                instance_dict[d] = true;
            }
        }
        auto set = std::find_if(row.attribute_sets.begin(), row.attribute_sets.end(),
                                [&](const auto& s) { return s.first == names; });
        if (set != row.attribute_sets.end()) {
            set->second += 1;
        } else if (row.attribute_sets.size() < ClassFacts::kMaxAttributeSets) {
            row.attribute_sets.emplace_back(names, 1);
        } else {
            row.other_sets += 1;
        }
    }
    for (ClassFacts& row : out.classes) {
        std::stable_sort(row.attribute_sets.begin(), row.attribute_sets.end(),
                         [](const auto& a, const auto& b) { return a.second > b.second; });
    }
}

void add_list(const HeapSnapshot& snapshot, NodeId node, SiteId site, SiteLines& lines,
              ListFacts& row) {
    auto* list = reinterpret_cast<PyListObject*>(snapshot.address(node));
    const Py_ssize_t length = Py_SIZE(list);
    row.lists += 1;
    row.bytes += snapshot.size(node);
    row.items += static_cast<std::uint64_t>(length);
    if (length == 0) row.empty += 1;
    row.spare_slots += static_cast<std::uint64_t>(list->allocated - length);
    for (Py_ssize_t i = 0; i < length; ++i) {
        PyObject* item = list->ob_item[i];
        bool number = false;
        if (PyFloat_CheckExact(item)) {
            row.float_items += 1;
            number = true;
        } else if (PyLong_CheckExact(item) && !is_static_or_immortal(item)) {
            int overflow = 0;
            (void)PyLong_AsLongLongAndOverflow(item, &overflow);
            if (overflow == 0) {
                row.int_items += 1;
                number = true;
            }
        }
        if (number && Py_REFCNT(item) == 1) {
            row.owned_numbers += 1;
            // What the list's numbers free is what was requested for them (the tracker's
            // record), which the object's header can understate.
            std::uint64_t bytes = 0;
            if (!requested_bytes_of_block(allocation_address(item), &bytes)) {
                bytes = snapshot.true_size(item);
            }
            row.owned_number_bytes += bytes;
        }
    }
    // The list's site is its item array's (site_of_object); its own struct's, where that is
    // known and not the same line, is where the list was made before it grew elsewhere.
    if (list->ob_item != nullptr && site != kUnknownSite) {
        SiteId struct_site = 0;
        if (site_of_block(allocation_address(reinterpret_cast<PyObject*>(list)), &struct_site) &&
            struct_site != site && lines.key(struct_site) != lines.key(site)) {
            row.resized_elsewhere += 1;
        }
    }
}

// Key sets compare as sets: the str hashes of the keys, mixed and summed.
std::uint64_t key_set_signature(PyObject* dict, bool* all_str) {
    std::uint64_t signature = 0x9E3779B97F4A7C15ULL;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    *all_str = true;
    while (PyDict_Next(dict, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key)) {
            *all_str = false;
            return 0;
        }
        auto h = static_cast<std::uint64_t>(PyObject_Hash(key));  // cached for str; no Python
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCDULL;
        h ^= h >> 33;
        signature += h;
    }
    return signature;
}

struct KeySet {
    std::uint64_t signature;
    NodeId example;
    std::uint64_t count;
    std::uint64_t bytes;
};

// Union-find over garbage nodes linked by references: the largest group's bytes.
std::uint64_t largest_garbage_group(const HeapSnapshot& snapshot) {
    const std::size_t n = snapshot.objects() + 1;
    std::vector<NodeId> leader(n, kNoNode);
    for (NodeId node = 1; node < n; ++node) {
        if (snapshot.idom(node) == kNoNode) leader[node] = node;
    }
    auto find = [&](NodeId x) {
        while (leader[x] != x) x = leader[x] = leader[leader[x]];
        return x;
    };
    for (NodeId node = 1; node < n; ++node) {
        if (leader[node] == kNoNode) continue;
        for (const NodeId next : snapshot.graph().successors(node)) {
            if (leader[next] == kNoNode) continue;
            const NodeId a = find(node), b = find(next);
            if (a != b) leader[std::max(a, b)] = std::min(a, b);
        }
    }
    std::unordered_map<NodeId, std::uint64_t> bytes;
    std::uint64_t largest = 0;
    for (NodeId node = 1; node < n; ++node) {
        if (leader[node] == kNoNode) continue;
        largest = std::max(largest,
                           bytes[find(node)] += snapshot.size(node) + snapshot.folded_bytes(node));
    }
    return largest;
}

// The name of the attribute of instance `o` that holds `value` ("" when none does).
std::string attribute_of(PyObject* o, PyObject* value) {
    PyObject* name = attribute_name_of(o, value);
    if (name == nullptr) return {};
    const char* utf8 = PyUnicode_AsUTF8(name);
    std::string found = utf8 != nullptr ? utf8 : "";
    PyErr_Clear();
    Py_DECREF(name);
    return found;
}

// For a cycle edge (from, attribute, to): the live `to` objects that live `from` objects refer
// to by `attribute` (into `live_targets`), and how many of them are no longer reachable from
// the root when those references are not followed. One search of the live graph.
void check_weak_edge(const HeapSnapshot& snapshot, CycleEdge& edge) {
    const std::size_t n = snapshot.objects() + 1;
    std::unordered_set<std::uint64_t> weak;  // (from node << 32 | to node) not followed
    std::unordered_set<NodeId> targets;
    for (NodeId node = 1; node < n; ++node) {
        if (snapshot.type(node) != edge.from || snapshot.idom(node) == kNoNode) continue;
        auto* o = reinterpret_cast<PyObject*>(snapshot.address(node));
        for (const NodeId next : snapshot.graph().successors(node)) {
            if (snapshot.type(next) != edge.to || snapshot.idom(next) == kNoNode) continue;
            if (attribute_of(o, reinterpret_cast<PyObject*>(snapshot.address(next))) ==
                edge.attribute) {
                weak.insert(static_cast<std::uint64_t>(node) << 32 | next);
                targets.insert(next);
            }
        }
    }
    edge.checked = true;
    edge.live_targets = targets.size();
    if (targets.empty()) return;
    std::vector<bool> reached(n, false);
    std::vector<NodeId> stack{0};
    reached[0] = true;
    while (!stack.empty()) {
        const NodeId node = stack.back();
        stack.pop_back();
        const bool from = snapshot.type(node) == edge.from;  // a hash lookup only then
        for (const NodeId next : snapshot.graph().successors(node)) {
            if (reached[next] ||
                (from && weak.contains(static_cast<std::uint64_t>(node) << 32 | next))) {
                continue;
            }
            reached[next] = true;
            stack.push_back(next);
        }
    }
    edge.stranded = static_cast<std::uint64_t>(
        std::count_if(targets.begin(), targets.end(), [&](NodeId t) { return !reached[t]; }));
}

}  // namespace

// Duplicate strings are told by a 64-bit hash of their characters: a lookup each in an
// open-addressing set of hashes. (Sorting (hash, node) pairs and comparing equal-hash strings
// character by character was a quarter of a census child's time on a CSV job with two million
// strings; a false duplicate needs two of them to collide in 64 bits, about one chance in ten
// million there, and only shifts an estimate.) Each lookup waits kAhead strings behind the walk
// with its slot prefetched, so that the set's cache misses overlap: a miss each, one after the
// other, were 14% of a census child's time on json_csv_pipeline (2 million strings, 281,000 of them
// distinct: an 8 MiB set).
// Strings are still counted in the order the walk saw them: which of equal ones is the first
// (not a duplicate), and so each site's counts, are what they were.
// A duplicate is a string equal to one made at the same allocation site: what interning that
// site's strings saves (sys.intern at the line keeps one of each of its values). Equal to one
// made elsewhere it is not one: a line's strings that repeat another line's values (json.loads
// of records whose names an f-string made) were claimed to save 24 MiB, and interning that
// line alone saved nothing (each value's first string there is interned, not the other line's).
// Strings an array holds as its items are left out: they are a column's values (pandas'
// object and Python-backed str columns), which the column rules (`category`, `arrow-strings`)
// advise on; `sys.intern` at the line that made the frame is no fix there.
void StringCensus::object(PyObject* o, SiteId site, std::uint64_t size, bool in_array) {
    if (in_array || Py_TYPE(o) != &PyUnicode_Type || PyUnicode_CHECK_INTERNED(o)) return;
    const std::uint64_t h = content_hash(o);
    // (value, site): equal values of different sites are not duplicates (see above). Never 0,
    // the empty slot.
    const std::uint64_t key = (h ^ (std::uint64_t{site} * 0x9E3779B97F4A7C15ULL)) | 1;
    seen_.prefetch(key);
    Pending& place = pending_[queued_ % kAhead];
    if (queued_ >= kAhead) count(place);  // the string seen kAhead strings ago
    place = {o, site, size, h, key};
    ++queued_;
}

void StringCensus::count(const Pending& string) {
    StringFacts& row = row_of_(string.site);
    row.strings += 1;
    row.bytes += string.size;
    if (seen_.insert(string.key)) return;
    row.duplicates += 1;
    row.duplicate_bytes += string.size;
    if (row.examples.size() < 3 &&
        std::none_of(row.examples.begin(), row.examples.end(),
                     [&](PyObject* e) { return content_hash(e) == string.hash; })) {
        row.examples.push_back(string.string);
    }
}

void StringCensus::walked() {
    for (std::size_t i = queued_ > kAhead ? queued_ - kAhead : 0; i < queued_; ++i) {
        count(pending_[i % kAhead]);
    }
    queued_ = 0;
    seen_.clear();
}

void collect_census_advice(const HeapSnapshot& snapshot, std::span<const SiteId> node_site,
                           std::uint64_t min_count, StringCensus& strings, CensusAdvice& out) {
    const std::size_t n = snapshot.objects() + 1;
    std::vector<bool> instance_dict(n, false);
    collect_classes(snapshot, instance_dict, out);

    SiteLines lines;
    std::map<SiteId, ListFacts> lists;
    std::map<SiteId, std::pair<DictFacts, std::vector<KeySet>>> dicts;
    std::map<std::pair<PyTypeObject*, SiteId>, GarbageFacts> garbage;
    std::map<std::tuple<PyTypeObject*, std::string, PyTypeObject*>,
             std::pair<std::uint64_t, std::unordered_set<NodeId>>>
        edges;
    engine::LastRow list_row(lists);
    engine::LastRow dict_row(dicts);
    engine::LastRow garbage_row(garbage);
    // What a type is, judged by its name once per run of objects of one type (the walk meets
    // objects grouped by type far more often than not), not with two strcmp per object.
    enum class Named { kOther, kArray, kFrame };
    PyTypeObject* named_type = nullptr;
    Named named = Named::kOther;
    const auto name_of = [&](PyTypeObject* tp) {
        if (tp != named_type) {
            named_type = tp;
            named = tp->tp_name != nullptr && std::strcmp(tp->tp_name, "numpy.ndarray") == 0
                        ? Named::kArray
                    : is_class_instance(tp) && std::strcmp(tp->tp_name, "DataFrame") == 0
                        ? Named::kFrame
                        : Named::kOther;
        }
        return named;
    };
    for (NodeId node = 1; node < n; ++node) {
        PyTypeObject* tp = snapshot.type(node);
        auto* o = reinterpret_cast<PyObject*>(snapshot.address(node));
        const SiteId site = node_site[node];
        if (tp == &PyList_Type) {
            ListFacts& row = list_row(site);
            row.site = site;
            add_list(snapshot, node, site, lines, row);
        } else if (tp == &PyDict_Type && !instance_dict[node]) {
            auto& [row, sets] = dict_row(site);
            row.site = site;
            row.dicts += 1;
            row.bytes += snapshot.size(node);
            bool all_str = false;
            const std::uint64_t signature = PyDict_GET_SIZE(o) <= 64 && PyDict_GET_SIZE(o) > 0
                                                ? key_set_signature(o, &all_str)
                                                : 0;
            if (all_str) {
                auto set = std::find_if(sets.begin(), sets.end(),
                                        [&](const KeySet& s) { return s.signature == signature; });
                if (set != sets.end()) {
                    set->count += 1;
                    set->bytes += snapshot.size(node);
                } else if (sets.size() < 16) {
                    sets.push_back({signature, node, 1, snapshot.size(node)});
                }
            }
        } else if (const Named kind = name_of(tp); kind == Named::kArray) {
            if (snapshot.size(node) >= CensusAdvice::kLargeArrayBytes) out.arrays.push_back(node);
        } else if (kind == Named::kFrame) {
            out.frames.push_back(node);
        }
        if (snapshot.idom(node) == kNoNode) {
            const auto add_garbage = [&](PyTypeObject* type, SiteId at, std::uint64_t bytes) {
                out.garbage_bytes += bytes;
                out.garbage_objects += 1;
                GarbageFacts& row = garbage_row({type, at});
                row.type = type;
                row.site = at;
                row.count += 1;
                row.bytes += bytes;
            };
            add_garbage(tp, site, snapshot.size(node));
            // The leaves folded into a garbage node are garbage too (they are its alone).
            snapshot.for_each_folded(node, [&](PyObject* leaf, std::uint64_t size) {
                SiteId leaf_site = kUnknownSite;
                if (!site_of_object(leaf, &leaf_site)) leaf_site = kUnknownSite;
                add_garbage(Py_TYPE(leaf), leaf_site, size);
            });
            if (is_class_instance(tp) && edges.size() < 256) {
                for (const NodeId next : snapshot.graph().successors(node)) {
                    PyTypeObject* to = snapshot.type(next);
                    if (snapshot.idom(next) != kNoNode || !is_class_instance(to)) continue;
                    std::string name =
                        attribute_of(o, reinterpret_cast<PyObject*>(snapshot.address(next)));
                    if (name.empty()) continue;
                    auto& [count, targets] = edges[{tp, std::move(name), to}];
                    count += 1;
                    targets.insert(next);
                }
            }
        }
    }

    if (!garbage.empty()) out.largest_garbage_group = largest_garbage_group(snapshot);
    if (out.frames.size() > CensusAdvice::kMaxFrames) {
        std::partial_sort(
            out.frames.begin(),
            out.frames.begin() + static_cast<std::ptrdiff_t>(CensusAdvice::kMaxFrames),
            out.frames.end(),
            [&](NodeId a, NodeId b) { return snapshot.retained(a) > snapshot.retained(b); });
        out.frames.resize(CensusAdvice::kMaxFrames);
    }

    for (auto& [site, row] : lists) {
        if (row.lists >= min_count || row.items >= min_count) out.lists.push_back(row);
    }
    for (auto& [site, row] : strings.by_site_) {
        row.site = site;
        if (row.duplicates >= min_count) out.strings.push_back(std::move(row));
    }
    for (auto& [site, entry] : dicts) {
        auto& [row, sets] = entry;
        if (row.dicts < min_count) continue;
        row.key_sets = sets.size();
        auto common = std::max_element(sets.begin(), sets.end(), [](const auto& a, const auto& b) {
            return a.count < b.count;
        });
        if (common != sets.end()) {
            auto* example = reinterpret_cast<PyObject*>(snapshot.address(common->example));
            Py_ssize_t pos = 0;
            PyObject *key, *value;
            while (PyDict_Next(example, &pos, &key, &value)) row.common_keys.push_back(key);
            row.common_count = common->count;
            row.common_bytes = common->bytes;
        }
        out.dicts.push_back(row);
    }
    for (const auto& [key, row] : garbage) {
        if (row.count >= min_count) out.garbage.push_back(row);
    }
    for (const auto& [key, value] : edges) {
        out.cycle_edges.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key),
                                   value.first, value.second.size()});
    }
    // Whether a weak reference would free what the program still holds: checked for the edges
    // seen most often (the advice chooses among them).
    std::vector<CycleEdge*> by_count;
    for (CycleEdge& edge : out.cycle_edges) by_count.push_back(&edge);
    std::sort(by_count.begin(), by_count.end(),
              [](const CycleEdge* a, const CycleEdge* b) { return a->count > b->count; });
    if (by_count.size() > CycleEdge::kMaxChecked) by_count.resize(CycleEdge::kMaxChecked);
    for (CycleEdge* edge : by_count) check_weak_edge(snapshot, *edge);
    std::erase_if(out.classes, [&](const ClassFacts& c) { return c.count < min_count; });
    auto by_bytes = [](const auto& a, const auto& b) { return a.bytes > b.bytes; };
    std::sort(out.classes.begin(), out.classes.end(), by_bytes);
    std::sort(out.lists.begin(), out.lists.end(), by_bytes);
    std::sort(out.dicts.begin(), out.dicts.end(), by_bytes);
    std::sort(out.garbage.begin(), out.garbage.end(), by_bytes);
    std::sort(out.strings.begin(), out.strings.end(),
              [](const auto& a, const auto& b) { return a.duplicate_bytes > b.duplicate_bytes; });
}

}  // namespace memslim::cpython
