// tracker.h — the allocation tracker: hooks on PyMem's RAW, MEM and OBJ domains that charge
// every allocation to its Python call stack (a site), exactly or by sampling.
//
// Hot path rules: the hooks never call into Python, never allocate through the hooked
// allocators (bookkeeping uses the C++ heap, which is plain malloc), and guard against
// re-entry per thread. RAW allocations (and native ones, native_hooks.h) may come from threads
// that do not hold the GIL: they are recorded under the tracker's own lock, charged to the
// thread's own stack when it has one (record_block), else to the empty stack (site 0).
#pragma once

#include <Python.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/frame_tree.h"
#include "engine/live_map.h"
#include "engine/timeline.h"

namespace memslim::cpython {

enum class TrackMode { kExact, kSample };

struct TrackOptions {
    TrackMode mode = TrackMode::kExact;
    double sample_interval_bytes = 256 * 1024;  // sample mode: mean bytes between samples
    std::uint64_t seed = 0;                     // sample mode: 0 picks a random seed
    double timeline_interval_seconds = 0.01;    // first interval; doubles as the run lengthens
    std::size_t timeline_points = 1024;
    // Record stacks only above the frame that starts tracking (for a runner that sits below
    // the target for the whole run): shorter stacks, less work per allocation.
    bool stacks_above_caller = false;
    // Inside an import, keep of each imported module's frames only the module's own line (and
    // the allocating frame when it is the module's own code): see hide_import_system_frames.
    bool fold_imports = true;
};

// Where a block's memory comes from. A site is a stack and a domain: one line can hold both
// Python objects and the NumPy buffers it made, and the report splits its bytes by domain.
enum class Domain : std::uint8_t {
    kPython = 0,  // PyMem's domains (RAW, MEM, OBJ): Python objects and their storage
    kNumpy = 1,   // NumPy array buffers, through its data-memory handler (numpy_handler.h)
    kNative = 2,  // the C allocator, called by native code (native_hooks.h)
    kMmap = 3,    // anonymous memory maps made by native code (native_hooks.h)
};
inline constexpr std::size_t kDomains = 4;
inline constexpr const char* kDomainNames[kDomains] = {"python", "numpy", "native", "mmap"};

// A site is the node of its stack in the tracker's frame tree, and a domain.
struct SiteStats {
    engine::SiteId site;
    std::int64_t bytes_at_peak;
    std::int64_t bytes_live;
    std::int64_t allocated_bytes;
    std::uint64_t allocations;
    std::uint64_t gc_freed_bytes;  // freed while the cyclic GC collected (exact mode)
    Domain domain;
    std::int64_t high_bytes = 0;     // the most it held live (engine::PeakTracker::high)
    std::int64_t total_at_high = 0;  // everything live then
};

struct TrackResult {
    TrackMode mode = TrackMode::kExact;
    double sample_interval_bytes = 0;
    std::int64_t current_bytes = 0;
    std::int64_t peak_bytes = 0;
    double peak_seconds = 0;  // since start; when the peak was last left (or the end)
    // Sample mode: the standard error of the estimated bytes at the peak (0 in exact mode).
    double peak_standard_error = 0;
    double elapsed_seconds = 0;
    std::uint64_t peak_rss_bytes = 0;
    std::size_t bookkeeping_bytes = 0;  // memslim's own tables: the sum of the three below
    std::size_t stack_bytes = 0;        // the frame tree
    std::size_t site_bytes = 0;         // per-site counters
    std::size_t block_bytes = 0;        // the live blocks (exact) or samples
    std::size_t released_bytes = 0;     // of block_bytes, freed since the run (release_blocks)
    std::vector<SiteStats> sites;       // every site that allocated
    std::vector<engine::TimelinePoint> timeline;
};

// Allocators outside PyMem (NumPy's data-memory handler, numpy_handler.h; native code's malloc,
// native_hooks.h) report their blocks here, inside a RecordingScope that is true: tracking
// runs and the calling thread is not inside a hook already (an allocator calling another one
// is recorded once, by the outermost). Call the inner allocator and these inside an
// UntrackedScope. A block freed that was never recorded (made before tracking started) is
// ignored.
//
// Such a hook may run without the GIL, so while the thread that stops tracking holds it: the
// scope announces the hook before it reads whether tracking runs, and stop_tracking waits until
// every scope that saw tracking run has ended. The recording they write to is never freed under
// them (it was, when tracking restarted at once: a use after free that ThreadSanitizer found,
// scripts/tsan.sh). Scopes count per shard of threads, so that threads allocating at once do
// not write to one cache line.
class RecordingScope {
  public:
    RecordingScope() noexcept;
    ~RecordingScope();
    RecordingScope(const RecordingScope&) = delete;
    RecordingScope& operator=(const RecordingScope&) = delete;
    explicit operator bool() const { return recording_; }

  private:
    std::atomic<std::uint32_t>* shard_;
    bool recording_;
};
void record_allocation(const void* ptr, std::size_t size, Domain domain);
// Forgets a block before it is freed or reallocated; false if it was not recorded.
bool forget_allocation(const void* ptr, engine::LiveBlock* block);
// Puts a forgotten block back (a realloc that failed).
void restore_allocation(const void* ptr, const engine::LiveBlock& block);
// The calling thread is about to release the GIL (PyEval_SaveThread, hooked in native modules):
// its stack is interned now, so that its allocations without the GIL are charged to it.
void intern_stack_before_release();

// Installs the hooks. Returns false with a Python exception set if tracking already runs.
// Needs the GIL.
bool start_tracking(const TrackOptions& options);

// Removes the hooks and stops the timeline. Needs the GIL. Safe to call when not tracking.
void stop_tracking();

bool is_tracking();

// True while what was recorded can be read for a census: tracking runs, or this process is a
// census child (see census_fork) reading its copy of the parent's records.
bool sites_known();

// Whether those records are a sample (sample mode): their per-site bytes are weights.
bool sites_sampled();

// Forks a child to take a census of a copy-on-write image of the heap at this instant, while
// this process runs on. Returns the child's pid here and 0 in the child, or -1 (errno set).
// Call from the census callback (GIL held, at a safe point). In the child: the interpreter is
// made usable again (PyOS_AfterFork_Child), Ctrl-C, SIGTERM and SIGHUP kill it, and it dies
// with this process; it must leave with _exit(). Python's `after_in_child` fork hooks run in the
// child (PyOS_AfterFork_Child) but those registered after set_census_child_hooks' point; the
// `before` and `after_in_parent` ones do not run (3.13+: set aside around PyOS_BeforeFork,
// which the import lock that PyOS_AfterFork_Child releases needs; see set_census_fork_hooks).
long census_fork();

// `hooks`: the interpreter's list of `after_in_child` fork hooks (os.register_at_fork), whose
// items from `keep` on are the program's: a census child drops them before it runs the rest.
// None: every hook runs.
void set_census_child_hooks(PyObject* hooks, Py_ssize_t keep);

// The interpreter's lists of `before` and `after_in_parent` fork hooks (None: not known). On
// 3.13+, where census_fork runs them (PyOS_BeforeFork, PyOS_AfterFork_Parent), they are emptied
// for each census fork and put back after it, as 3.11 and 3.12 run none there.
void set_census_fork_hooks(PyObject* before, PyObject* after_in_parent);

// True in a child process forked while tracking: its records belong to the parent's report.
bool in_forked_child();

// True in a census child (census_fork): Python's after-fork hooks run there too.
bool in_census_child();

// For tests: holds the lock of the recording's timeline (as the timeline thread does while it
// adds a point) for `seconds`, writing one byte to `ready_fd` once it holds it.
void hold_timeline_lock(double seconds, int ready_fd);

// In such a child: tracking starts again from nothing with the same options, for the child's
// own report (blocks the parent allocated are not the child's: their frees are ignored).
// Returns false with a Python exception set elsewhere. Needs the GIL.
bool restart_in_forked_child();

// Current and peak traced bytes (estimates in sample mode). Needs the GIL.
std::int64_t traced_bytes();
std::int64_t peak_traced_bytes();
// Traced bytes live now less native memory's: what a heap census can see (Python's, NumPy's).
std::int64_t visible_traced_bytes();

// Asks for one census as soon as one of `codes` (code objects of the program's frames on the
// stack now, innermost first; at most four are kept) allocates again: a census taken inside a
// library's call (a CSV parse, its native buffers at their peak) cannot see what the call
// returns, the DataFrame; this one can. Replaces the codes asked for before; an empty span
// asks for none. Needs the GIL.
void census_after_return(std::span<PyObject* const> codes);
// Before the runtime is marked as finalizing (cpython/finalizing.h), with the GIL: no census
// starts any more, memslim's asking thread (3.11) is stopped, and a census running in another
// thread (one that released the GIL inside it) is waited for, up to `max_seconds`: a thread
// that exits at its next take of the GIL inside memslim's code unwinds through frames that
// must not be unwound (a daemon thread's census, or the asking thread: std::terminate). False
// when one still runs then: the caller leaves the threads be.
bool settle_censuses(double max_seconds);
// Seconds into the run at which one of memslim's own tables could not grow and recording of
// new blocks stopped (tracker.cpp `ran_out_of_own_memory`), or -1 when it never happened.
double own_memory_ran_out_at();
// Whether the census callback running now was asked for so (false outside a census).
bool census_is_follow_up();
// The census callback is about to fail with `exception`, raised by a signal handler of the
// program's while the census ran: it is the program's, and reaches the program as it would
// have without memslim, though an Exception (memslim's own are written off as unraisable).
void census_raised_for_the_program(PyObject* exception);

// Traced bytes live now, per domain (kDomainNames' order): O(sites).
std::array<std::int64_t, kDomains> live_bytes_by_domain();

// Of the live blocks of at least 64 KiB, the bytes of their pages that are not resident:
// allocated, never written (engine/residency.h). In sample mode, the sampled blocks of at least
// four sampling intervals (their weight is then their size within 2%), scaled by weight.
std::uint64_t untouched_bytes();

// Aggregates what was recorded (totals, timeline, and with `with_sites` every site). Needs the
// GIL; tracking may still run.
TrackResult collect_result(bool with_sites = true);

// The frames of a site, innermost first: borrowed code objects (kept alive by the tracker
// until reset_tracker()) and instruction indexes.
std::vector<engine::Frame> site_frames(engine::SiteId site);

// While one lives, the calling thread's allocations are not recorded (they are memslim's).
class UntrackedScope {
  public:
    UntrackedScope();
    ~UntrackedScope();
    UntrackedScope(const UntrackedScope&) = delete;
    UntrackedScope& operator=(const UntrackedScope&) = delete;

  private:
    bool was_;
};

// Holds the tracker's lock while what was recorded is read (visit_frame_tree, visit_sites).
// Take it inside an UntrackedScope: what the reader allocates is then not recorded, and so does
// not wait for this lock. Needs the GIL.
class RecordingLock {
  public:
    RecordingLock();
    ~RecordingLock();
    RecordingLock(const RecordingLock&) = delete;
    RecordingLock& operator=(const RecordingLock&) = delete;

    [[nodiscard]] bool recorded() const;  // false when nothing was recorded
    [[nodiscard]] const engine::FrameTree& tree() const;
    [[nodiscard]] std::size_t site_slots() const;
    // The stats of the site in `slot`; false if it never allocated.
    bool site_stats(std::size_t slot, SiteStats* stats) const;
};

// Calls `visit(frame, parent)` for every node of the frame tree from `first` on (the root is
// node 0: never visited), in id order (callers first), under a RecordingLock.
template <class Visit>
void visit_frame_tree(Visit visit, engine::NodeId first = 1) {
    RecordingLock hold;
    if (!hold.recorded()) return;
    const engine::FrameTree& tree = hold.tree();
    for (engine::NodeId node = std::max<engine::NodeId>(first, 1); node < tree.size(); ++node) {
        visit(tree.frame(node), tree.parent(node));
    }
}

// How many nodes the frame tree has now (0 when nothing was recorded). Needs the GIL.
std::size_t recorded_tree_size();

// A number that changes whenever a recording starts (start_tracking, restart_in_forked_child):
// what is cached about one recording's frame tree is valid while it stays the same.
std::uint64_t recording_generation();

// Calls `visit(const SiteStats&)` for every site that allocated, under a RecordingLock.
template <class Visit>
void visit_sites(Visit visit) {
    RecordingLock hold;
    if (!hold.recorded()) return;
    SiteStats stats{};
    for (std::size_t slot = 0; slot < hold.site_slots(); ++slot) {
        if (hold.site_stats(slot, &stats)) visit(stats);
    }
}

// The bytes site `site` held at the peak in the domains a census sees, Python's and NumPy's
// (0 if it never allocated there): what a census's count at the site is scaled to. Needs the
// GIL.
std::int64_t site_bytes_at_peak(engine::SiteId site);

// The bytes site `site` holds now in the same domains (in sample mode, the weights of its
// sampled blocks; a census child reads those of the moment it was forked). Needs the GIL.
std::int64_t site_bytes_live(engine::SiteId site);

// What censuses may cost before their margin doubles (set_census): `share` of the run's time
// plus `allowance_seconds`, counting the time the program stood still for them.
struct CensusBudget {
    double share = 0.2;
    double allowance_seconds = 2.0;
};

// Heap censuses at the high-water mark: when traced bytes pass `first_bytes`, and then each
// time they exceed the traced bytes at the previous census by `margin` (0.1: 10%; doubled each
// time censuses have cost more than `budget` allows; and at least 256 KiB apart), a call to
// `callback` is scheduled (Py_AddPendingCall) and runs at the interpreter's next safe point,
// in the main thread with the GIL held, outside any hook. While it runs, its allocations are not
// recorded and the cyclic GC is paused (so no object of the program is freed unseen). Exceptions
// from the callback are reported as unraisable, never raised into the program. Pass nullptr to
// turn censuses off. Needs the GIL.
void set_census(PyObject* callback, double margin, std::int64_t first_bytes,
                CensusBudget budget = {});

// Whether memslim's hooks are `domain`'s allocator now; if so, *original is the allocator they
// forward to. Needs the GIL.
bool hooked_allocator_original(PyMemAllocatorDomain domain, PyMemAllocatorEx* original);

// The site of the live block at `address`, if tracking recorded it (in sample mode, only sampled
// blocks are known). Needs the GIL.
bool site_of_block(std::uintptr_t address, engine::SiteId* site);

// The bytes requested for the live block at `address`, in exact mode only (sample mode records
// weights). What CPython requested can exceed what the object's header says it uses: an int made
// by an addition keeps the digit that normalising dropped (36 bytes where sys.getsizeof says
// 32), and tracemalloc counts the 36. Needs the GIL.
bool requested_bytes_of_block(std::uintptr_t address, std::uint64_t* bytes);

// Called as a collection of the cyclic GC of `generation` starts, in whichever thread
// allocates: a safe point. Runs a census now if one is due (at a margin or a plateau) and has
// not run: its pending call runs only in the main thread, which may wait (in join(), say) while
// other threads grow the heap. And as a full collection starts, if traced bytes are at (within
// 3% of) their peak and well above the last census: before the collector frees the garbage that
// makes up part of this peak. Needs the GIL.
void census_before_collection(int generation);

// Tells the tracker that the cyclic GC starts (true) or stops (false) collecting in the calling
// thread: blocks that thread frees meanwhile are charged to their sites as freed by the GC
// (gc.callbacks calls this). Other threads' frees are not: the callbacks are Python code, which
// may hand the GIL on while a collection is under way.
void set_gc_collecting(bool collecting);

// Nothing the calling thread allocates from now on is recorded, and it takes no census: a
// thread of memslim's own (_threads.start_thread: the capture's checkpoints) that runs Python
// code while the program is tracked. What it frees is still forgotten: a collection it
// triggers frees the program's garbage.
void untrack_this_thread();
// Whether the calling thread's allocations are recorded, and sets it (false: as memslim's own
// threads'); returns what it was. For memslim's own work in a program's thread while tracking
// runs: the CLI waiting for the program's threads.
bool set_thread_tracked(bool tracked);

// The site of object `o`: for a list with items, that of its item array (allocated for it,
// where the list struct may come from the interpreter's free list and keep the site of the list
// that first used its memory); otherwise that of its own block, or, for a dict whose struct came
// from the free list before tracking, that of its keys table. Needs the GIL.
bool site_of_object(PyObject* o, engine::SiteId* site);

// Once tracking has stopped: frees the live-block map (or sample mode's sampled blocks), which
// nothing reads once the run's RSS ledger was read (the sites, their totals and the stack tree
// stay). After it, no object's site is known (site_of_object finds none); the run's results
// still count the map's bytes, as its released_bytes.
void release_blocks();

// Forgets everything recorded and releases the code objects it kept. Needs the GIL; only when
// not tracking.
void reset_tracker();

}  // namespace memslim::cpython
