// tracker.cpp — PyMem hooks and the recording behind them (see tracker.h).
#include "cpython/tracker.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define MEMSLIM_ASAN 1
#endif

#include "cpython/frames.h"
#include "cpython/native_hooks.h"
#include "cpython/numpy_handler.h"
#include "cpython/object_layout.h"
#include "cpython/stack_index.h"
#include "engine/block_map.h"
#include "engine/byte_sampler.h"
#include "engine/counting_filter.h"
#include "engine/live_map.h"
#include "engine/peak_tracker.h"
#include "engine/residency.h"
#include "engine/tick_clock.h"

namespace memslim::cpython {

namespace {

using Clock = std::chrono::steady_clock;

// initial-exec: the hooks read these on every allocation; the default model for a shared
// object costs a call to __tls_get_addr each time.
#define MEMSLIM_FAST_TLS __attribute__((tls_model("initial-exec")))
MEMSLIM_FAST_TLS thread_local bool t_in_hook = false;
// A thread of memslim's own (untrack_this_thread): what it allocates is not recorded, but what
// it frees is forgotten like any free (a collection it triggers frees the program's garbage).
MEMSLIM_FAST_TLS thread_local bool t_untracked_thread = false;

// A spinning lock: held for a few hash-table operations at a time, uncontended nearly always.
// Its holder records nothing (t_in_hook): an allocation while holding it (a table growing,
// through a C++ library whose malloc is hooked) would otherwise wait for the lock forever.
class SpinLock {
  public:
    void lock() {
        while (flag_.test_and_set(std::memory_order_acquire)) {
            while (flag_.test(std::memory_order_relaxed)) __builtin_ia32_pause();
        }
        holder_was_in_hook_ = t_in_hook;  // only the holder reads or writes it
        t_in_hook = true;
    }
    void unlock() {
        t_in_hook = holder_was_in_hook_;
        flag_.clear(std::memory_order_release);
    }

  private:
    std::atomic_flag flag_ = ATOMIC_FLAG_INIT;
    bool holder_was_in_hook_ = false;
};

// Everything recorded by one tracking session. Lives on the C++ heap, never on PyMem's.
struct Recording {
    explicit Recording(const TrackOptions& opts) : options(opts) {
        slot_of_node.push_back(0);  // the root (the empty stack)
    }

    TrackOptions options;
    SpinLock lock;  // guards tree, slots, blocks, samples, peak
    // Stacks: a site is a node of this tree. The peak tracker and the block maps count by a
    // dense slot per site (only nodes that allocated get one): 40 bytes per site there, none
    // for the inner nodes of the tree.
    engine::FrameTree tree;
    // Per node, its Python domain's slot + 1 (0 where it never allocated): grows with the
    // tree, in add_node. Other domains' slots are few (NumPy allocates far less often than
    // Python) and live in a map.
    engine::ChunkedVector<std::uint32_t> slot_of_node;
    std::unordered_map<std::uint64_t, std::uint32_t> other_slots;  // node * kDomains + domain
    engine::ChunkedVector<engine::NodeId> node_of_slot;
    engine::ChunkedVector<Domain> domain_of_slot;
    engine::BlockMap blocks;  // exact mode: every live block
    engine::LiveMap samples;  // sample mode: the sampled live blocks, by weight
    engine::PeakTracker peak;
    Clock::time_point started = Clock::now();
    engine::TickClock ticks;       // restarted with `started`; for peak_ticks
    std::uint64_t peak_ticks = 0;  // when the peak was last left (0: never)
    // Sample mode: the variance of the estimated live total, now and when the peak was saved
    // (ByteSampler::variance_term of each live sample, summed).
    double variance = 0;
    double variance_at_peak = 0;
    void add_variance(std::uint64_t weight, double sign) {  // a sample's, recorded or forgotten
        variance += sign * engine::ByteSampler::variance_term(
                               weight, static_cast<double>(options.sample_interval_bytes));
    }
    // The peak tracker has just saved what is live at the peak: when (ticks.now()), and its
    // variance.
    void note_peak_saved(std::uint64_t when) {
        peak_ticks = when;
        variance_at_peak = variance;
    }
    // The program may be at its peak right now (tracking stops, or its result is read while
    // it runs): what is live is saved as the peak's, now, if it is.
    void save_peak_if_at_it() {
        const std::uint64_t saves = peak.peak_saves();
        peak.finish();
        if (peak.peak_saves() != saves) note_peak_saved(ticks.now());
    }
    [[nodiscard]] double peak_seconds() const {
        return peak_ticks == 0 ? 0.0 : ticks.seconds(peak_ticks);
    }
    void restart_clocks() {
        started = Clock::now();
        ticks.restart();
    }
    [[nodiscard]] double seconds_since_start() const {
        return std::chrono::duration<double>(Clock::now() - started).count();
    }
    std::uint64_t last_peak_saves = 0;
    std::size_t released_block_bytes = 0;  // what release_blocks() freed

    // What the live-block tables hold now: the exact map, or the samples and their filter.
    [[nodiscard]] std::size_t held_block_bytes() const {
        return blocks.memory_bytes() + samples.memory_bytes() +
               (filter ? filter->memory_bytes() : 0);
    }

    // Sample mode: a counting filter over sampled addresses, so that a free of an unsampled
    // block (nearly all of them) is dismissed without the lock.
    std::unique_ptr<engine::CountingFilter> filter;

    // The timeline thread reads the traced total from this mirror, never taking `lock`: a
    // thread spinning on the hooks' lock would slow every allocation down.
    std::atomic<std::int64_t> current_mirror{0};
    // The highest traced total so far, for the timeline thread's plateau check (see
    // census_at_plateau).
    std::atomic<std::int64_t> peak_mirror{0};
    // Live bytes of NumPy's buffers, and of native memory (the C allocator's and anonymous
    // maps'), kept by those domains' hooks only (never on the Python domain's path) and read
    // by the timeline thread: the timeline splits traced bytes by domain.
    std::atomic<std::int64_t> numpy_live{0};
    std::atomic<std::int64_t> native_live{0};
    void count_other(Domain domain, std::int64_t bytes) {
        (domain == Domain::kNumpy ? numpy_live : native_live)
            .fetch_add(bytes, std::memory_order_relaxed);
    }
    // A point of the timeline, with the other domains' parts of `traced`.
    engine::TimelinePoint timeline_point(double seconds, std::int64_t traced,
                                         std::int64_t rss) const {
        return {seconds, traced, rss, numpy_live.load(std::memory_order_relaxed),
                native_live.load(std::memory_order_relaxed)};
    }
    // Bytes per slot freed while the GC collected. Few sites free anything that way (1,180
    // of scikit-learn's bench job's 569,000): a vector indexed by slot held 6-8 MB of zeros.
    std::unordered_map<std::uint32_t, std::uint64_t> gc_freed;
    std::mutex timeline_mutex;            // guards timeline
    engine::Timeline timeline{1024};

    // A node was added to the tree. Needs `lock`.
    void add_node(engine::NodeId node) {
        // Keep the frame's code object alive, so that its address stays its own until the
        // report resolves it. Only threads holding the GIL make nodes.
        auto* code = reinterpret_cast<PyObject*>(tree.frame(node).code);
        Py_INCREF(code);
        note_new_code(code);
        slot_of_node.push_back(0);
    }

    // Thread states made while tracking, with the node of the stack that made each: CPython
    // allocates a thread's state with PyMem_RawCalloc(1, n) in the thread that starts it
    // (`_thread.start_new_thread`, under `Thread.start`), and the new thread's first frame
    // stack (16 KiB, mapped before its first frame exists) is charged to that stack, the line
    // that started it, not to "<native thread>" ("threads that never ran Python"). `own`: the
    // starting thread was memslim's own work (untracked), and so is what the new thread
    // allocates before its first frame. A state made without the GIL (PyGILState_Ensure in a
    // thread of a library's) is kept too, at the root: its address may be a dead state's.
    // Few at a time: Thread.start waits for the new thread to run. Needs `lock`.
    struct ThreadStart {
        std::uintptr_t state = 0;
        engine::NodeId node = engine::FrameTree::kRoot;
        bool own = false;
    };
    std::array<ThreadStart, 16> thread_starts{};
    std::size_t next_thread_start = 0;
    void note_thread_state(std::uintptr_t state, engine::NodeId node, bool own) {
        const ThreadStart* known = thread_start(state);  // an address used again: replaced
        const std::size_t at = known != nullptr
                                   ? static_cast<std::size_t>(known - thread_starts.data())
                                   : next_thread_start++ % thread_starts.size();
        thread_starts[at] = {state, node, own};
    }
    [[nodiscard]] const ThreadStart* thread_start(std::uintptr_t state) const {
        if (state == 0) return nullptr;  // no thread state; an unused entry's
        for (const ThreadStart& start : thread_starts) {
            if (start.state == state) return &start;
        }
        return nullptr;
    }

    // The node a link stands for (a worker's stack: engine::Frame::is_link): the site of the
    // work item's block, which submit() allocated in the submitting thread; the root when that
    // block is not known (sample mode, unless it was sampled). Needs `lock`.
    engine::NodeId link_node(const engine::Frame& link) const {
        engine::LiveBlock block;
        const bool found = filter ? samples.find(link.code, &block) : blocks.find(link.code, &block);
        if (!found || block.site >= node_of_slot.size()) return engine::FrameTree::kRoot;
        return node_of_slot[block.site];
    }

    // Interns `stack` into the thread's `cache`: under its link's node when its last frame is
    // one (link_node), else under the root. Needs `lock`.
    engine::NodeId intern(engine::StackCache& cache, std::span<const engine::Frame> stack) {
        return cache.intern(
            stack, tree, [this](engine::NodeId added) { add_node(added); }, outer_node(stack));
    }

    // The longest outer part of `stack` already in the tree (a thread without the GIL adds no
    // node), under its link's node as in intern. Needs `lock`.
    [[nodiscard]] engine::NodeId known_prefix(std::span<const engine::Frame> stack) const {
        const engine::NodeId outer = outer_node(stack);
        return tree.known_prefix(linked(stack) ? stack.first(stack.size() - 1) : stack, outer);
    }

    static bool linked(std::span<const engine::Frame> stack) {
        return !stack.empty() && stack.back().is_link();
    }
    [[nodiscard]] engine::NodeId outer_node(std::span<const engine::Frame> stack) const {
        return linked(stack) ? link_node(stack.back()) : engine::FrameTree::kRoot;
    }

    // The slot of site `node` in `domain`, made when it first allocates. Needs `lock`.
    std::uint32_t slot(engine::NodeId node, Domain domain = Domain::kPython) {
        std::uint32_t& s =
            domain == Domain::kPython
                ? slot_of_node[node]
                : other_slots[std::uint64_t{node} * kDomains + static_cast<std::uint64_t>(domain)];
        if (s == 0) {
            node_of_slot.push_back(node);
            domain_of_slot.push_back(domain);
            s = static_cast<std::uint32_t>(node_of_slot.size());
        }
        return s - 1;
    }
};

std::unique_ptr<Recording> g_recording;
std::atomic<bool> g_active{false};   // hooks record only while set
const void* g_stop_frame = nullptr;  // capture_stack() stops there (see TrackOptions)
std::atomic<bool> g_forked_child{false};
bool g_census_child = false;  // this process is a census child (census_fork)
// The calling thread runs a collection of the cyclic GC (set_gc_collecting): per thread, since
// the callbacks that set it are Python code, which may hand the GIL to other threads while it
// is set; a global flag counted their frees as the collector's (threads8: 589 MB "freed by the
// cyclic GC" in a program that makes no cycle).
MEMSLIM_FAST_TLS thread_local bool t_gc_collecting = false;
std::atomic<std::uint64_t> g_seed_base{0};
// Threads other than the one that started the recording take the seed's steps 1, 2, ... in the
// order they first allocate; the starting thread (a program's main thread) always takes step 0.
std::atomic<std::uint64_t> g_seed_steps{0};
std::atomic<pthread_t> g_starting_thread{};

// Censuses at the high-water mark (see set_census).
PyObject* g_census_callback = nullptr;
std::atomic<std::int64_t> g_next_census{INT64_MAX};
std::atomic<bool> g_census_pending{false};
// A census asked for when the program's own code allocates again after a census taken inside
// a library's call (census_after_return): the code objects of the program's frames that were
// on the stack then, compared by address only (one that was freed since may match another:
// one more census). Written with the GIL held, read by record_block (with the GIL too).
constexpr std::size_t kFollowCodes = 4;
std::array<std::uintptr_t, kFollowCodes> g_follow_codes{};
std::atomic<std::size_t> g_follow_count{0};
// The census asked for so is taken even when below the last one (census_now), and the margin's
// next point stays where it was (g_forced_point).
bool g_census_forced = false;
std::int64_t g_forced_point = 0;
// Whether the census running now is one census_after_return asked for (census_is_follow_up).
bool g_running_follow_up = false;
int run_census(void*);
void census_at_plateau(std::int64_t peak, std::int64_t current);
// A census asked for by a thread other than the main one (record_block): on 3.11 pending calls
// run in the main thread only, and one waiting in join() or a future's result() runs none until
// the worker it waits for has ended, and with it the worker's peak. memslim's asking thread
// (census_in_asking_thread) offers the census to the thread that asked instead. (3.12+: see
// add_pending_call_in_any_thread.)
std::atomic<PyThreadState*> g_census_asker{nullptr};
std::atomic<bool> g_census_asked{false};
std::atomic<bool> g_asking_runs{false};  // memslim's asking thread runs (start_timeline)
// A thread's trace function waits for its line (g_line_wait is set): the asking thread checks
// at each tick that the wait can still end.
std::atomic<bool> g_line_waiting{false};
void wake_asking_thread();
PyThreadState* current_thread_state();

// A thread's trace function, set without the audit event of PyEval_SetTrace ("sys.settrace"):
// the program's audit hooks saw every census wait for its line, and ran in memslim's thread
// when it set another thread's (a `threading._DummyThread` then stayed in
// `threading.enumerate()`), or refused it. On 3.11 the fields are the thread's own, as
// _PyEval_SetTrace sets them. On 3.12+ a trace function goes through sys.monitoring, which
// only PyEval_SetTrace sets up: the calling thread's only, with its audit event, and no other
// thread's (kTraceOtherThreads: there a worker is asked with a pending call that any thread
// runs, add_pending_call_in_any_thread, and waits for its line itself).
#if PY_VERSION_HEX < 0x030C0000
constexpr bool kTraceOtherThreads = true;
void set_trace_of(PyThreadState* tstate, Py_tracefunc function) {
    tstate->c_tracefunc = function;  // c_traceobj stays null: memslim's function takes none
    tstate->cframe->use_tracing =
        tstate->tracing == 0 && (tstate->c_tracefunc != nullptr || tstate->c_profilefunc != nullptr)
            ? 255
            : 0;
}
#else
constexpr bool kTraceOtherThreads = false;
void set_trace_of(PyThreadState* tstate, Py_tracefunc function) {
    if (tstate == current_thread_state()) PyEval_SetTrace(function, nullptr);
}
#endif

// 3.12+: a pending call that the next thread to check its eval breaker runs (CPython's
// _PyEval_AddPendingCall with no flags, in Include/internal/pycore_ceval.h, exported for
// _testinternalcapi; Py_AddPendingCall passes "main thread only"). A worker's census is asked
// for this way (record_block): that worker, holding the GIL, takes it at its own next line,
// while a main thread waiting in join() or in a future's result() runs no pending call until
// the worker has ended, and its peak with it. 3.11 has no such queue: memslim's asking thread
// sets the worker's trace function instead (census_in_asking_thread).
#if PY_VERSION_HEX >= 0x030C0000
extern "C" int _PyEval_AddPendingCall(PyInterpreterState* interp, int (*func)(void*), void* arg,
                                      int flags);
constexpr bool kAnyThreadPendingCalls = true;
int add_pending_call_in_any_thread(int (*func)(void*)) {
    return _PyEval_AddPendingCall(PyInterpreterState_Main(), func, nullptr, 0);
}
#else
constexpr bool kAnyThreadPendingCalls = false;
int add_pending_call_in_any_thread(int (*func)(void*)) {
    return Py_AddPendingCall(func, nullptr);
}
#endif
// When the census pending now was asked for (or its thread began to wait for its line), and
// by which thread (ask_again_if_stalled). Read and written with the GIL held.
std::chrono::steady_clock::time_point g_census_asked_at;
PyThreadState* g_census_asked_by = nullptr;
void ask_again_if_stalled();

thread_local std::unique_ptr<engine::ByteSampler> t_sampler;
MEMSLIM_FAST_TLS thread_local engine::ByteSampler* t_sampler_raw = nullptr;
MEMSLIM_FAST_TLS thread_local std::uint64_t t_sampler_generation = 0;
std::atomic<std::uint64_t> g_generation{0};

// Each thread's last stack (see engine::StackCache), made on its first allocation. The raw
// pointer is what the hooks read; the holder frees the cache at thread exit and clears it.
// `chain`: the raw frames read for the cached stack (empty when they are not that stack's), so
// that an allocation at the same stack is told so without walking it (record_block).
struct ThreadStacks {
    std::uint64_t generation = 0;
    engine::StackCache cache;
    bool deep = false;  // the last walk passed more frames than a chain holds
    FrameChain chain;
};
MEMSLIM_FAST_TLS thread_local ThreadStacks* t_stacks_raw = nullptr;
struct ThreadStacksHolder {
    std::unique_ptr<ThreadStacks> stacks;
    ~ThreadStacksHolder() { t_stacks_raw = nullptr; }
};
thread_local ThreadStacksHolder t_stacks;

ThreadStacks& thread_stacks() {
    const std::uint64_t generation = g_generation.load(std::memory_order_relaxed);
    if (t_stacks_raw == nullptr) {
        t_stacks.stacks = std::make_unique<ThreadStacks>();
        t_stacks_raw = t_stacks.stacks.get();
        t_stacks_raw->generation = generation;
    } else if (t_stacks_raw->generation != generation) {
        t_stacks_raw->cache.clear();  // its nodes belong to an earlier recording
        t_stacks_raw->chain.count = 0;
        t_stacks_raw->generation = generation;
    }
    return *t_stacks_raw;
}

engine::StackCache& stack_cache() {
    return thread_stacks().cache;
}

// The allocators the hooks forward to, one per domain.
struct DomainHook {
    PyMemAllocatorDomain domain;
    PyMemAllocatorEx original;
};
DomainHook g_hooks[3] = {{PYMEM_DOMAIN_RAW, {}}, {PYMEM_DOMAIN_MEM, {}}, {PYMEM_DOMAIN_OBJ, {}}};

// The timeline's sampling thread.
struct TimelineThread {
    std::thread thread;
    std::mutex mutex;
    std::condition_variable wake;
    bool stop = false;
    bool started = false;  // the thread runs timeline_loop, as memslim's own (start_timeline)
#ifdef MEMSLIM_ASAN
    void* stack_low = nullptr;  // the thread's stack (see after_fork_in_child)
    std::size_t stack_size = 0;
#endif
};
TimelineThread* g_timeline = nullptr;

class HookGuard {
  public:
    HookGuard() { t_in_hook = true; }
    ~HookGuard() { t_in_hook = false; }
    HookGuard(const HookGuard&) = delete;
    HookGuard& operator=(const HookGuard&) = delete;
};

// Makes the calling thread's sampler for this recording (sampler's slow path, a call of its
// own so that the check below is all an allocation in sample mode pays).
[[gnu::noinline]] engine::ByteSampler& new_sampler(const Recording& rec, std::uint64_t generation) {
    // The recording's seed, stepped once per thread: with --seed, the same program samples
    // the same blocks whatever ran before it in this process (the recording's generation
    // was mixed in: a test's result depended on the tests run before it), and the thread
    // that started the recording samples the same blocks whichever thread allocated first
    // (by order alone, another thread's first allocation took its step in one run of ten
    // under AddressSanitizer).
    const bool starter = pthread_equal(pthread_self(), g_starting_thread.load()) != 0;
    const std::uint64_t step = starter ? 0 : 1 + g_seed_steps.fetch_add(1);
    const std::uint64_t seed = g_seed_base.load() + step * 0x9E3779B97F4A7C15ULL;
    t_sampler = std::make_unique<engine::ByteSampler>(rec.options.sample_interval_bytes, seed);
    t_sampler_raw = t_sampler.get();
    t_sampler_generation = generation;
    return *t_sampler_raw;
}

// The calling thread's sampler for this recording, made on its first allocation in it.
inline engine::ByteSampler& sampler(const Recording& rec) {
    const std::uint64_t generation = g_generation.load(std::memory_order_relaxed);
    if (t_sampler_raw == nullptr || t_sampler_generation != generation) [[unlikely]] {
        return new_sampler(rec, generation);
    }
    return *t_sampler_raw;
}

// The calling thread's state, or null.
PyThreadState* current_thread_state() {
#if PY_VERSION_HEX >= 0x030D0000
    return PyThreadState_GetUnchecked();
#else
    return _PyThreadState_UncheckedGet();
#endif
}

// Whether `code` is one of the program's code objects a census waits to see allocate again.
bool follow_code(std::uintptr_t code) {
    const std::size_t count = g_follow_count.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < count; ++i) {
        if (g_follow_codes[i] == code) return true;
    }
    return false;
}

// Records a new block of `bytes` (the weight, in sample mode) at `address`. `gil` says whether
// the calling thread holds the GIL, and so may read its Python stack.
// Set once one of memslim's own tables could not grow (std::bad_alloc in a hook: a program
// under RLIMIT_AS that catches its MemoryError was aborted, "terminate called after throwing",
// a helper's programs 2026-12-06): from then on no new block is recorded (frees still are), and
// the report says when. What was recorded until then, the peak so far included, stands.
std::atomic<bool> g_out_of_own_memory{false};
std::atomic<double> g_out_of_own_memory_at{0.0};

void ran_out_of_own_memory(Recording& rec) noexcept {
    if (!g_out_of_own_memory.exchange(true)) {
        g_out_of_own_memory_at.store(rec.seconds_since_start());
    }
}

void restore_block_locked(Recording& rec, std::uintptr_t address, const engine::LiveBlock& block,
                          bool other);

bool offer_census_here();

void record_block(Recording& rec, std::uintptr_t address, std::uint64_t bytes, bool gil,
                  Domain domain = Domain::kPython) {
    engine::Frame frames[kMaxStackDepth];
    // A thread without the GIL (in a C call that released it) reads its own frames, which hold
    // still until it takes the GIL back. It may not add nodes, though: a node keeps its code
    // object alive (Py_INCREF), which needs the GIL. Its stack is usually in its cache already:
    // a native module releasing the GIL had it interned then (intern_stack_before_release).
    // Otherwise its block goes to the longest outer part of its stack already in the tree.
    engine::NodeId node = engine::FrameTree::kRoot;
    engine::StackCache* cache = nullptr;
    bool cached = false;
    std::size_t depth = 0;
    const engine::Frame* read = frames;  // the stack: `frames`, or the cache's own
    if (gil) {
        ThreadStacks& mine = thread_stacks();
        cache = &mine.cache;
        std::uint32_t moved_to = 0;
        FramesNow now = check_frames(mine.chain, g_stop_frame, &moved_to);
        // Only the innermost frame moved, to an instruction where this thread allocated
        // before under the same caller (a comprehension's dict, string and list in turn): the
        // cache has that stack's node and slot now, as for an unchanged stack.
        if (now == FramesNow::kInnermostMoved && cache->move_innermost(moved_to)) {
            now = FramesNow::kSame;
        }
        if (now == FramesNow::kSame) {
            // The frames of the cached stack, unchanged (most allocations: pandas' bench job
            // 99.5%, 10.8 frames deep): not walked again.
            cached = true;
            read = cache->frames().data();
            depth = cache->frames().size();
        } else if (now == FramesNow::kInnermostMoved) {
            // Its callers unchanged, the innermost frame at another instruction, one not
            // among the thread's recent ones (the JSON/CSV bench job: 22% of allocations move
            // so, most to a recent one): the cached stack with that frame changed, interned
            // below.
            const std::span<const engine::Frame> known = cache->frames();
            depth = known.size();
            std::copy(known.begin(), known.end(), frames);
            frames[0].instruction = moved_to;
        } else {
            // The frames are recorded as they are read, unless the last walk passed more
            // than a chain holds (inside imports: 50-120 frames, a new stack nearly every
            // time; recording them cost scikit-learn's bench job more than it saved).
            // The stack read is found in the cache or interned into it below: the chain
            // recorded is the cache's.
            std::size_t passed = 0;
            if (mine.deep) mine.chain.count = 0;
            depth = capture_stack_compared(frames, kMaxStackDepth, g_stop_frame,
                                           cache->frames(), &cached,
                                           mine.deep ? nullptr : &mine.chain, &passed);
            mine.deep = passed > FrameChain::kCapacity;
        }
        if (cached) node = cache->node();
    } else {
        depth = capture_stack_without_gil(frames, kMaxStackDepth, g_stop_frame);
        if (depth > 0) {
            cache = &stack_cache();
            cached = cache->lookup(std::span<const engine::Frame>(frames, depth), &node);
        }
    }
    // No frame above the one stacks stop at, in the thread that started tracking: memslim's
    // runner itself (cli.main between starting tracking and the program's first line, and after
    // its last), not the program. Recorded, its blocks were a "<native thread>" line of 720
    // bytes in every report, of a program that started no thread.
    if (depth == 0 && gil && g_stop_frame != nullptr &&
        pthread_equal(pthread_self(), g_starting_thread.load(std::memory_order_relaxed)) != 0) {
        // A script runs from no frame (eval_as_first_frame): what the interpreter allocates
        // to run it, its module's function object, is charged to the runner's frames, as when
        // it ran by exec (the report's peak counts it, as tracemalloc does).
        depth = capture_first_frame_caller(frames, kMaxStackDepth, g_stop_frame);
        if (depth == 0) return;
        read = frames;
        cached = false;
    }
    const std::span<const engine::Frame> stack(read, depth);
    std::unique_lock<SpinLock> held(rec.lock);  // released if a table cannot grow (bad_alloc)
    if (gil && !cached) {
        node = rec.intern(*cache, stack);
    } else if (!gil && !cached && depth > 0) {
        node = rec.known_prefix(stack);
    }
    // No frame, with the GIL: a new thread's first frame stack, before its first frame
    // (Recording::thread_starts); anything else stays at the root.
    bool started = false;
    if (depth == 0 && gil) {
        const Recording::ThreadStart* start =
            rec.thread_start(reinterpret_cast<std::uintptr_t>(current_thread_state()));
        if (start != nullptr && start->own) return;
        if (start != nullptr) {
            node = start->node;
            started = true;
        }
    }
    // The cache keeps the Python domain's slot of its last stack (nearly every allocation).
    const bool cache_slot = (gil || cached) && domain == Domain::kPython && !started;
    std::uint32_t site = cache_slot ? cache->slot() : engine::StackCache::kNoSlot;
    if (site == engine::StackCache::kNoSlot) {
        site = rec.slot(node, domain);
        if (cache_slot) cache->set_slot(site);
    }
    if (rec.filter) {
        rec.samples.insert(address, bytes, site);
        rec.add_variance(bytes, 1.0);
    } else {
        rec.blocks.insert(address, bytes, site);
    }
    rec.peak.on_alloc(site, static_cast<std::int64_t>(bytes));
    rec.current_mirror.store(rec.peak.current(), std::memory_order_relaxed);
    if (domain != Domain::kPython) rec.count_other(domain, static_cast<std::int64_t>(bytes));
    if (rec.filter) rec.filter->add(address);
    const std::int64_t current = rec.peak.current();
    held.unlock();
    if (current > rec.peak_mirror.load(std::memory_order_relaxed)) {
        rec.peak_mirror.store(current, std::memory_order_relaxed);
    }
    if (gil && depth > 0 && g_follow_count.load(std::memory_order_relaxed) != 0 &&
        follow_code(read[0].code)) {
        g_follow_count.store(0, std::memory_order_relaxed);
        if (!g_census_forced) g_forced_point = g_next_census.exchange(0);
        g_census_forced = true;
    }
    if (gil && current > g_next_census.load(std::memory_order_relaxed) &&
        !g_census_pending.load(std::memory_order_relaxed) && !g_census_pending.exchange(true)) {
        // A thread other than the main one asks memslim's asking thread, which offers it the
        // census at its own line, or else issues the pending call itself. Not a pending call
        // from here as well: a main thread waiting in join() runs none, and once 32 waited in
        // its queue, every later one failed and the workers' censuses stopped (ASan's slower
        // run took 31 of them, then none for the last 14% of the peak).
        if (g_asking_runs.load(std::memory_order_relaxed) && gettid() != getpid()) {
            if (!offer_census_here()) {
                g_census_asker.store(current_thread_state());
                wake_asking_thread();
            }
        } else {
            g_census_asked_at = std::chrono::steady_clock::now();
            g_census_asked_by = current_thread_state();
            const bool main = !kAnyThreadPendingCalls || gettid() == getpid();
            if ((main ? Py_AddPendingCall(run_census, nullptr)
                      : add_pending_call_in_any_thread(run_census)) != 0) {
                g_census_pending.store(false);
            }
        }
    } else if (kAnyThreadPendingCalls && gil && g_census_pending.load(std::memory_order_relaxed)) {
        ask_again_if_stalled();
    }
}

// The node of the calling thread's stack (it holds the GIL), interned into its cache, so that
// what it allocates after releasing the GIL finds its node there (record_block).
engine::NodeId intern_current_stack(Recording& rec) {
    engine::Frame frames[kMaxStackDepth];
    const std::size_t depth = capture_stack(frames, kMaxStackDepth, g_stop_frame);
    const std::span<const engine::Frame> stack(frames, depth);
    ThreadStacks& mine = thread_stacks();
    engine::StackCache& cache = mine.cache;
    engine::NodeId node = engine::FrameTree::kRoot;
    if (depth == 0 || cache.lookup(stack, &node)) return node;
    mine.chain.count = 0;  // the cache's stack is this one now, not the chain's
    std::lock_guard<SpinLock> hold(rec.lock);
    return rec.intern(cache, stack);
}

// A block of PyMem_RawCalloc(1, n), which may be a thread's state (Recording::thread_starts):
// kept with the stack that made it.
void note_raw_calloc(void* ptr, bool gil) {
    if (ptr == nullptr || g_out_of_own_memory.load(std::memory_order_relaxed)) return;
    Recording& rec = *g_recording;
    const bool own = t_untracked_thread;
    try {
        const engine::NodeId node =
            gil && !own ? intern_current_stack(rec) : engine::FrameTree::kRoot;
        std::lock_guard<SpinLock> hold(rec.lock);
        rec.note_thread_state(reinterpret_cast<std::uintptr_t>(ptr), node, own);
    } catch (const std::bad_alloc&) {
        ran_out_of_own_memory(rec);
    }
}

// Forgets the block at `address` under the lock; returns false if it was not recorded.
// `by_gc`: the cyclic GC is freeing it (charged to its site in gc_freed, under the same lock).
// `other`: a hook of a domain other than Python's frees it (Recording::count_other). A call of
// its own, so that a free of a block never sampled (forget_block's first line) pays for none
// of its registers: a free's hook and its forget_block ran 70 instructions in sample mode
// before the split (callgrind on a pymalloc-heavy loop; bench/RESULTS.md).
[[gnu::noinline]] bool forget_recorded_block(Recording& rec, std::uintptr_t address,
                                            engine::LiveBlock* block, bool by_gc, bool other) {
    rec.lock.lock();
    const bool found =
        rec.filter ? rec.samples.erase(address, block) : rec.blocks.erase(address, block);
    if (found) {
        const std::uint64_t saves = rec.peak.peak_saves();
        rec.peak.on_free(block->site, static_cast<std::int64_t>(block->size));
        rec.current_mirror.store(rec.peak.current(), std::memory_order_relaxed);
        // Before this free's variance is taken away, as its bytes were at the peak.
        if (rec.peak.peak_saves() != saves) rec.note_peak_saved(rec.ticks.now());
        if (rec.filter) {
            rec.filter->remove(address);
            rec.add_variance(block->size, -1.0);
        }
        if (other) {
            rec.count_other(rec.domain_of_slot[block->site],
                            -static_cast<std::int64_t>(block->size));
        }
        if (by_gc) {
            rec.gc_freed[block->site] += block->size;
        }
    }
    rec.lock.unlock();
    return found;
}

// Whether a block at `address` may be recorded: false in sample mode for nearly every free
// (the block was never sampled), answered without the lock.
inline bool may_be_recorded(const Recording& rec, std::uintptr_t address) {
    return !rec.filter || rec.filter->may_contain(address);
}

// Forgets the block at `address` if it may be recorded; returns false if it was not.
inline bool forget_block(Recording& rec, std::uintptr_t address, engine::LiveBlock* block,
                         bool by_gc = false, bool other = false) {
    if (!may_be_recorded(rec, address)) return false;
    return forget_recorded_block(rec, address, block, by_gc, other);
}

// Puts back a record taken out by forget_block (a realloc that failed); `other` as there.
void restore_block(Recording& rec, std::uintptr_t address, const engine::LiveBlock& block,
                   bool other = false) {
    std::unique_lock<SpinLock> held(rec.lock, std::defer_lock);
    try {
        held.lock();
        restore_block_locked(rec, address, block, other);
    } catch (const std::bad_alloc&) {
        if (held.owns_lock()) held.unlock();
        ran_out_of_own_memory(rec);
    }
}

void restore_block_locked(Recording& rec, std::uintptr_t address, const engine::LiveBlock& block,
                          bool other) {
    if (other) {
        rec.count_other(rec.domain_of_slot[block.site], static_cast<std::int64_t>(block.size));
    }
    if (rec.filter) {
        rec.samples.insert(address, block.size, block.site);
        rec.add_variance(block.size, 1.0);
    } else {
        rec.blocks.insert(address, block.size, block.site);
    }
    rec.peak.on_alloc(block.site, static_cast<std::int64_t>(block.size));
    rec.current_mirror.store(rec.peak.current(), std::memory_order_relaxed);
    if (rec.filter) rec.filter->add(address);
}

bool holds_gil(const DomainHook* hook) {
    // MEM and OBJ allocators may only be called with the GIL held; RAW may be called without.
    return hook->domain != PYMEM_DOMAIN_RAW || PyGILState_Check();
}

bool recording() {
    return !t_in_hook && g_active.load(std::memory_order_relaxed);
}

// Hooks inside a RecordingScope (see tracker.h), per shard of threads.
struct alignas(64) ScopeShard {
    std::atomic<std::uint32_t> count{0};
};
constexpr std::uint32_t kScopeShards = 16;
ScopeShard g_scopes[kScopeShards];
std::atomic<std::uint32_t> g_next_shard{0};
MEMSLIM_FAST_TLS thread_local std::uint32_t t_shard_plus_one = 0;  // 0: none chosen yet

// Waits until every RecordingScope that saw tracking run has ended. Call after g_active was
// cleared: a scope made since sees that and ends at once. (Sequentially consistent on both
// sides: the scope's increment comes before its read of g_active, this clearing before these
// reads; one of the two sees the other.)
void wait_for_recording_scopes() {
    for (ScopeShard& shard : g_scopes) {
        while (shard.count.load() != 0) std::this_thread::yield();
    }
}

// Records `bytes` at `address` (record_new's call, kept out of its inline path).
[[gnu::noinline]] void record_new_block(Recording& rec, std::uintptr_t address,
                                        std::uint64_t bytes, bool gil, Domain domain) {
    try {
        record_block(rec, address, bytes, gil, domain);
    } catch (const std::bad_alloc&) {
        ran_out_of_own_memory(rec);
    }
}

// Records a new block of `size` bytes (in sample mode, only if sampled, at its weight).
// Inline, with the sampler's countdown: in sample mode nearly every allocation ends there.
inline void record_new(const void* ptr, std::size_t size, bool gil, Domain domain) {
    if (ptr == nullptr || t_untracked_thread ||
        g_out_of_own_memory.load(std::memory_order_relaxed)) {
        return;
    }
    Recording& rec = *g_recording;
    std::uint64_t bytes = size;
    if (rec.options.mode == TrackMode::kSample) {
        bytes = sampler(rec).sample(size);
        if (bytes == 0) return;
    }
    record_new_block(rec, reinterpret_cast<std::uintptr_t>(ptr), bytes, gil, domain);
}

// Called inside a HookGuard: the allocator's own calls into other domains (pymalloc hands
// large blocks to PyMem_RawMalloc) are not recorded a second time.
[[gnu::always_inline]] inline void on_alloc(const DomainHook* hook, void* ptr, std::size_t size) {
    record_new(ptr, size, holds_gil(hook), Domain::kPython);
}

// The PyMem hooks. Those of the raw domain may run without the GIL: inside a RecordingScope.
// MEM and OBJ need the GIL, which the thread that stops tracking holds: they cannot overlap.
template <class Body>
auto in_domain(const DomainHook* hook, Body body) {
    if (hook->domain == PYMEM_DOMAIN_RAW) {
        RecordingScope scope;
        return body(static_cast<bool>(scope));
    }
    return body(recording());
}

void* hook_malloc(void* ctx, std::size_t size) {
    auto* hook = static_cast<DomainHook*>(ctx);
    return in_domain(hook, [&](bool recording_now) {
        if (!recording_now) return hook->original.malloc(hook->original.ctx, size);
        HookGuard guard;
        void* ptr = hook->original.malloc(hook->original.ctx, size);
        on_alloc(hook, ptr, size);
        return ptr;
    });
}

void* hook_calloc(void* ctx, std::size_t count, std::size_t size) {
    auto* hook = static_cast<DomainHook*>(ctx);
    return in_domain(hook, [&](bool recording_now) {
        if (!recording_now) return hook->original.calloc(hook->original.ctx, count, size);
        HookGuard guard;
        void* ptr = hook->original.calloc(hook->original.ctx, count, size);
        on_alloc(hook, ptr, count * size);
        if (count == 1 && hook->domain == PYMEM_DOMAIN_RAW) note_raw_calloc(ptr, holds_gil(hook));
        return ptr;
    });
}

void* hook_realloc(void* ctx, void* old_ptr, std::size_t size) {
    auto* hook = static_cast<DomainHook*>(ctx);
    return in_domain(hook, [&](bool recording_now) -> void* {
        if (!recording_now) return hook->original.realloc(hook->original.ctx, old_ptr, size);
        HookGuard guard;
        // Forget the old block before the allocator can hand its address to another thread.
        engine::LiveBlock old_block;
        const bool was_live =
            old_ptr != nullptr &&
            forget_block(*g_recording, reinterpret_cast<std::uintptr_t>(old_ptr), &old_block);
        void* ptr = hook->original.realloc(hook->original.ctx, old_ptr, size);
        if (ptr == nullptr && old_ptr != nullptr && size != 0) {
            // Failed: the old block is still there, unchanged. Put its record back.
            if (was_live) {
                restore_block(*g_recording, reinterpret_cast<std::uintptr_t>(old_ptr), old_block);
            }
            return nullptr;
        }
        on_alloc(hook, ptr, size);
        return ptr;
    });
}

void hook_free(void* ctx, void* ptr) {
    auto* hook = static_cast<DomainHook*>(ctx);
    in_domain(hook, [&](bool recording_now) {
        const auto address = reinterpret_cast<std::uintptr_t>(ptr);
        if (ptr != nullptr && recording_now && may_be_recorded(*g_recording, address)) {
            HookGuard guard;
            engine::LiveBlock block;
            // Only the collecting thread, holding the GIL (MEM, OBJ), frees its garbage.
            const bool by_gc = hook->domain != PYMEM_DOMAIN_RAW && t_gc_collecting;
            forget_recorded_block(*g_recording, address, &block, by_gc, false);
        }
        hook->original.free(hook->original.ctx, ptr);
        return 0;
    });
}

// Read with open() and a buffer on the stack, not fopen (a FILE is malloc's): the timeline
// thread reads it at every point, and one malloc there made the C allocator give that thread
// an arena of its own, 64 MiB of the program's address space (see engine/timeline.h).
std::int64_t read_rss_bytes() {
    const int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char text[128];
    ssize_t got = 0;
    do {
        got = read(fd, text, sizeof text - 1);
    } while (got < 0 && errno == EINTR);
    close(fd);
    if (got <= 0) return 0;
    text[got] = '\0';
    char* end = nullptr;
    std::strtol(text, &end, 10);  // the total size; the resident pages follow
    if (end == text) return 0;
    const char* resident = end;
    const long pages_resident = std::strtol(resident, &end, 10);
    if (end == resident) return 0;
    return static_cast<std::int64_t>(pages_resident) * sysconf(_SC_PAGESIZE);
}

// The process's peak RSS since its last exec: VmHWM, the high-water mark of its own address
// space. Not getrusage's ru_maxrss, which the kernel carries across exec: a program started
// from a large process (a test runner, a notebook's kernel) reported that process's RSS as its
// own peak (150 MB for an 85 MB run started from pytest after a large test). 0 if not known.
std::int64_t read_peak_rss_bytes() {
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (f == nullptr) return 0;
    char line[256];
    long kib = 0;
    while (std::fgets(line, sizeof line, f) != nullptr) {
        if (std::sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
    }
    std::fclose(f);
    return static_cast<std::int64_t>(kib) * 1024;
}

// How long traced bytes must stay below their peak before the peak counts as a plateau.
constexpr double kPlateauSeconds = 0.02;

// A thread of memslim's own, started with every asynchronous signal blocked (it inherits the
// mask of the thread that starts it). A signal sent to the process goes to any thread that does
// not block it: had memslim's thread taken a SIGTERM or SIGINT, Python's handler would wait for
// the main thread, which may sit in a blocking call (a Pool worker in sem_wait, told to
// terminate, did: the pool's join hung). Faults stay unblocked: they are the thread's own.
template <class Function, class... Args>
std::thread signal_free_thread(Function&& function, Args&&... args) {
    sigset_t blocked;
    sigset_t previous;
    sigfillset(&blocked);
    for (const int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS}) {
        sigdelset(&blocked, sig);
    }
    pthread_sigmask(SIG_BLOCK, &blocked, &previous);
    struct Restore {
        const sigset_t* mask;
        ~Restore() { pthread_sigmask(SIG_SETMASK, mask, nullptr); }
    } restore{&previous};
    return std::thread(std::forward<Function>(function), std::forward<Args>(args)...);
}

// The first step of each of memslim's threads: what it allocates is not the program's, and
// (AddressSanitizer) where its stack is, for after_fork_in_child.
template <class Thread>
void begin_own_thread([[maybe_unused]] Thread* self) {
    t_in_hook = true;
#ifdef MEMSLIM_ASAN
    pthread_attr_t attributes;
    if (pthread_getattr_np(pthread_self(), &attributes) == 0) {
        pthread_attr_getstack(&attributes, &self->stack_low, &self->stack_size);
        pthread_attr_destroy(&attributes);
    }
#endif
}

// How far apart a timeline point's time and its traced bytes may be read (timeline_loop).
constexpr auto kPointSkew = std::chrono::milliseconds(1);

void timeline_loop(TimelineThread* self, Recording* rec) {
    begin_own_thread(self);
    auto interval = std::chrono::duration<double>(rec->options.timeline_interval_seconds);
    std::unique_lock<std::mutex> wait_lock(self->mutex);
    self->started = true;
    self->wake.notify_all();
    std::int64_t last_peak = -1;
    double peak_seen_at = 0;
    while (!self->stop) {
        const std::int64_t rss = read_rss_bytes();
        // The time and the traced bytes of a point are read within a millisecond of each
        // other: a thread descheduled between the two reads (a busy machine) gave a point the
        // bytes of one moment and the time of a later one, and the process tree's peak, which
        // lines up processes by their points' times, saw a worker at that earlier value while
        // its sibling held its data (test_the_tree_peak_is_the_sum_at_its_moment, 1 run in
        // about 15 under load).
        Clock::time_point at;
        const std::int64_t traced = engine::read_at_one_instant(
            [rec] { return rec->current_mirror.load(std::memory_order_relaxed); }, kPointSkew, &at);
        const double seconds = std::chrono::duration<double>(at - rec->started).count();
        // A peak that has held for a while (the program stopped growing): census it there.
        const std::int64_t peak = rec->peak_mirror.load(std::memory_order_relaxed);
        if (peak != last_peak) {
            last_peak = peak;
            peak_seen_at = seconds;
        } else if (seconds - peak_seen_at >= kPlateauSeconds) {
            census_at_plateau(peak, traced);
        }
        bool compacted = false;
        {
            std::lock_guard<std::mutex> hold(rec->timeline_mutex);
            compacted = rec->timeline.add(rec->timeline_point(seconds, traced, rss));
        }
        if (compacted) interval *= 2;
        self->wake.wait_for(wait_lock, interval, [self] { return self->stop; });
    }
}

// memslim's asking thread (census_in_asking_thread): a thread of its own, not the timeline's,
// since it waits for the GIL, which a thread in a long C call (json.loads) keeps for seconds.
struct AskingThread {
    std::thread thread;
    std::mutex mutex;
    std::condition_variable wake;
    bool stop = false;
    bool started = false;
#ifdef MEMSLIM_ASAN
    void* stack_low = nullptr;  // as TimelineThread's
    std::size_t stack_size = 0;
#endif
};
AskingThread* g_asking = nullptr;
void census_in_asking_thread();

void asking_loop(AskingThread* self, double interval_seconds) {
    begin_own_thread(self);
    const auto interval = std::chrono::duration<double>(interval_seconds);
    std::unique_lock<std::mutex> wait_lock(self->mutex);
    self->started = true;
    self->wake.notify_all();
    while (!self->stop) {
        self->wake.wait_for(wait_lock, interval,
                            [self] { return self->stop || g_census_asked.load(); });
        if (self->stop) break;
        if (!g_census_asked.exchange(false) && !g_line_waiting.load()) continue;
        // The GIL is never waited for with the lock held: stop_timeline takes the lock with
        // the GIL held.
        wait_lock.unlock();
        census_in_asking_thread();
        wait_lock.lock();
    }
}

void wake_asking_thread() {
    g_census_asked.store(true);
    if (g_asking != nullptr) g_asking->wake.notify_one();
}

// Starts the timeline's thread and returns once it runs as memslim's own (t_in_hook). Call it
// before tracking is active: what a thread allocates before its first line (AddressSanitizer's
// thread start calls pthread_getattr_np, which calls malloc through libc's hooked GOT) would
// otherwise be a "<native thread>" line of the program's (in a forked child, whose native
// hooks are the parent's, every time).
void start_timeline(Recording* rec) {
    g_timeline = new TimelineThread();
    g_timeline->thread = signal_free_thread(timeline_loop, g_timeline, rec);
    std::unique_lock<std::mutex> hold(g_timeline->mutex);
    g_timeline->wake.wait(hold, [] { return g_timeline->started; });
    if (kTraceOtherThreads && g_census_callback != nullptr) {
        g_asking = new AskingThread();
        g_asking->thread =
            signal_free_thread(asking_loop, g_asking, rec->options.timeline_interval_seconds);
        std::unique_lock<std::mutex> hold_asking(g_asking->mutex);
        g_asking->wake.wait(hold_asking, [] { return g_asking->started; });
        g_asking_runs.store(true);
    }
}

void stop_asking_thread() {
    g_asking_runs.store(false);
    if (g_asking != nullptr) {
        {
            std::lock_guard<std::mutex> hold(g_asking->mutex);
            g_asking->stop = true;
        }
        g_asking->wake.notify_all();
        // It may be waiting for the GIL (census_in_asking_thread): let it have it.
        PyThreadState* saved = PyGILState_Check() ? PyEval_SaveThread() : nullptr;
        g_asking->thread.join();
        if (saved != nullptr) PyEval_RestoreThread(saved);
        delete g_asking;
        g_asking = nullptr;
    }
}

void stop_timeline() {
    stop_asking_thread();
    if (g_timeline == nullptr) return;
    {
        std::lock_guard<std::mutex> hold(g_timeline->mutex);
        g_timeline->stop = true;
    }
    g_timeline->wake.notify_all();
    g_timeline->thread.join();
    delete g_timeline;
    g_timeline = nullptr;
}

// The recording's locks are held across a fork, so that the child's copies are free: the
// timeline thread holds `timeline_mutex` for each point it adds, and a census child forked then
// waited for it forever in its first call that reads the timeline (bookkeeping_bytes, for its
// RSS ledger), and the report for the child (the bench's pandas job: 2 runs in about 90).
void before_fork() {
    if (!g_recording) return;
    g_recording->lock.lock();
    g_recording->timeline_mutex.lock();  // in collect_result's order
}
void after_fork_in_parent() {
    if (!g_recording) return;
    g_recording->timeline_mutex.unlock();
    g_recording->lock.unlock();
}
void after_fork_in_child() {
    if (!g_recording) return;
    g_recording->timeline_mutex.unlock();
    g_recording->lock.unlock();
    // The child's records would only ever reach the child's copy; stop recording there. The
    // timeline thread does not exist in the child: forget it without joining.
    g_active.store(false);
    g_forked_child.store(true);
#ifdef MEMSLIM_ASAN
    // The timeline thread is gone here, but ASan's shadow still marks the red zones of the
    // frames it was in, and glibc gives its stack to the next thread the child makes (the
    // child's own timeline thread, restart_in_forked_child): a false stack-buffer-overflow.
    if (g_timeline != nullptr && g_timeline->stack_low != nullptr) {
        __asan_unpoison_memory_region(g_timeline->stack_low, g_timeline->stack_size);
    }
    if (g_asking != nullptr && g_asking->stack_low != nullptr) {
        __asan_unpoison_memory_region(g_asking->stack_low, g_asking->stack_size);
    }
#endif
    g_timeline = nullptr;  // leaked on purpose: joining or destroying it would be undefined
    g_asking = nullptr;    // the same
    g_asking_runs.store(false);
    // The other threads' scopes ended with them: only the forking thread lives on here.
    for (ScopeShard& shard : g_scopes) shard.count.store(0);
}

// Censuses may take at most a share of the run's time (a fifth by default), plus a fixed
// allowance (2 s): each one stops the program (a fork, or a whole walk where fork fails), and a
// program that grows steadily would otherwise pay for many. When they go over, the margin to
// the next census doubles. The allowance keeps short runs (whose early censuses are a large
// share of so little time) at the fine margin that puts the last census close to the peak.
// Censuses are at least kCensusMinStep apart, which only matters
// just above the first census point (4 MiB): at 2 MiB apart a passing peak of 6-15 MiB fell
// just short of the next point, and the last census saw 79-90% of its objects (tests/
// integration/test_run.py, small passing peaks). A census of a heap that small forks a small
// process and its child walks it in tens of milliseconds on the other core; black_format's
// 16 forks became 30 without a change in its wall time measurable here.
CensusBudget g_census_budget;  // kept by set_census
constexpr std::int64_t kCensusMinStep = std::int64_t{256} << 10;
// Levels of recursion a census callback may use beyond the program's limit (census_now): its
// walk in process (take_raw_census) nests about 15 Python calls deep.
constexpr int kCensusRecursion = 100;
double g_census_seconds = 0;
std::atomic<double> g_census_margin_now{0.1};

// Traced bytes at the last census (run_census), for census_at_plateau.
std::atomic<std::int64_t> g_last_census_bytes{0};
// What the last census could see: its traced bytes less native memory (the C allocator's and
// anonymous maps', which no object holds that the heap walk reaches), for census_now.
std::atomic<std::int64_t> g_last_census_visible{0};

// Traced bytes a census can see now: Python's and NumPy's (its buffers count with arrays).
std::int64_t visible_bytes(const Recording& rec) {
    return rec.current_mirror.load() - rec.native_live.load(std::memory_order_relaxed);
}
std::atomic<std::int64_t> g_first_census_bytes{INT64_MAX};

// Whether an extra census at `bytes` traced (a plateau, a full collection at the peak) is worth
// taking: censuses are on, and the last one is further below than a quarter of the margin. Each
// extra census needs that much growth since the last, so their number stays geometrically
// bounded like the others'.
// `last`: the last census's bytes of the same measure (traced, or visible_bytes).
bool worth_an_extra_census(std::int64_t bytes,
                           const std::atomic<std::int64_t>& last = g_last_census_bytes) {
    if (bytes < g_first_census_bytes.load()) return false;  // INT64_MAX while censuses are off
    return static_cast<double>(bytes) >
           static_cast<double>(last.load()) * (1.0 + g_census_margin_now.load() / 4);
}

// Called by the timeline thread (without the GIL) when the peak has held for a while: the
// report's census should be close to the peak even when the next margin is never reached. The
// census sees what is live now: it is worth taking only if that is near the peak and above the
// last census (a peak reached inside one C call and left before a safe point cannot be seen,
// and comparing the peak with the last census instead took a census at every tick).
//
// It asks through the next allocation of a thread holding the GIL (record_block), not with
// Py_AddPendingCall from here: on 3.11 that sets the eval breaker only for a thread that may
// run pending calls, judged by the *calling* thread, so the main thread ran the call only the
// next time it took the GIL, never in a loop that does not release it; every later census
// waited behind it (a list built in one comprehension got no census after its first plateau).
void census_at_plateau(std::int64_t peak, std::int64_t current) {
    if (current * 100 < peak * 97 || !worth_an_extra_census(current)) return;
    g_next_census.store(0, std::memory_order_relaxed);
}

// The next census at a margin: `traced` plus the margin, and at least kCensusMinStep more.
void schedule_next_census(std::int64_t traced) {
    g_next_census.store(std::max(
        traced + kCensusMinStep,
        static_cast<std::int64_t>(static_cast<double>(traced) * (1.0 + g_census_margin_now))));
}

// The import system's _find_and_load: while it runs, the program is importing (set_census).
PyObject* g_import_code = nullptr;

// An exception of the program's raised while a census ran inside a GC callback (see
// run_census): raised again, into the program, by a pending call as soon as the collection
// ends.
PyObject* g_deferred_exception = nullptr;

// The exception being raised, as an instance (new reference), and cleared.
PyObject* take_exception() {
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (traceback != nullptr && value != nullptr) PyException_SetTraceback(value, traceback);
    Py_XDECREF(type);
    Py_XDECREF(traceback);
    return value;
#endif
}

// Raises `exception` (an instance; the reference is stolen).
void raise_exception(PyObject* exception) {
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exception);
#else
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exception)), exception);
    Py_DECREF(exception);
#endif
}

int raise_deferred(void*) {
    if (g_deferred_exception == nullptr) return 0;
    PyObject* exception = g_deferred_exception;
    g_deferred_exception = nullptr;
    raise_exception(exception);
    return -1;
}

// An exception the census callback marked as the program's (census_raised_for_the_program).
PyObject* g_programs_exception = nullptr;

// After the census callback failed: memslim's own error (an Exception) is reported as
// unraisable and the program goes on; anything else — the KeyboardInterrupt of a Ctrl-C that
// arrived during the census, the SystemExit of a signal handler of the program's, any
// exception that handler raised (the TimeoutError of an alarm: written off, a program's loop
// that waited for it ran forever, a helper's programs 2026-12-06) — is the program's, and
// reaches it as it would have without memslim: at once when the census runs as a pending call
// (returns -1), else (inside a GC callback, where CPython would write it off) from a pending
// call right after.
int after_failed_census(bool can_raise) {
    PyObject* const marked = g_programs_exception;
    g_programs_exception = nullptr;
    PyObject* exception = take_exception();
    const bool programs =
        exception != nullptr &&
        (exception == marked || !PyErr_GivenExceptionMatches(exception, PyExc_Exception));
    Py_XDECREF(marked);
    if (exception == nullptr) return 0;
    if (!programs) {
        raise_exception(exception);
        PyErr_WriteUnraisable(g_census_callback);
        return 0;
    }
    if (can_raise) {
        raise_exception(exception);
        return -1;
    }
    if (g_deferred_exception == nullptr) {
        g_deferred_exception = exception;
        if (Py_AddPendingCall(raise_deferred, nullptr) != 0) {
            raise_exception(g_deferred_exception);  // no room: as unraisable after all
            g_deferred_exception = nullptr;
            PyErr_WriteUnraisable(g_census_callback);
        }
    } else {
        Py_DECREF(exception);  // one is on its way already
    }
    return 0;
}

// `keep_point`: the next census's point does not move down to the margin above this one's.
int census_now(bool can_raise, bool keep_point = false);

// A census callback runs (with the GIL; it may release it, and another thread's collection or
// the main thread's pending call must not start a second one meanwhile).
bool g_census_running = false;

// Whether traced bytes have passed the next census point (a margin's; 0 once a plateau asked).
bool census_due() {
    return g_recording != nullptr && g_recording->current_mirror.load(std::memory_order_relaxed) >
                                         g_next_census.load(std::memory_order_relaxed);
}

// A census waits for the start of the main thread's next line. At a pending call the statement
// that passed the census point may not be over, and what it made may live only on its frame's
// value stack, where the heap walk does not look: `blob = bytearray(10**8)` runs the pending
// call between the call and the store, and the census at the peak missed the peak's largest
// object (18.6 of 107 MiB seen; NumPy arrays and other objects the collector does not track
// alike). At the start of a line, the statement before is done and its results are bound. A
// one-shot C trace function of the main thread asks for it, unless the program traces itself
// (a debugger, coverage): then the census runs at once, as before. If no line comes (the
// program ends inside a C call), the census at the end of the run takes its place.
PyThreadState* g_line_wait = nullptr;  // the thread whose trace function waits for a line
// When the wait began, and whether that thread is not the main one (census_in_asking_thread).
std::chrono::steady_clock::time_point g_line_wait_since;
bool g_line_wait_elsewhere = false;

// Whether `tstate` is one of the interpreter's threads now (with the GIL held).
bool thread_exists(const PyThreadState* tstate) {
    for (PyThreadState* t = PyInterpreterState_ThreadHead(PyInterpreterState_Main()); t != nullptr;
         t = PyThreadState_Next(t)) {
        if (t == tstate) return true;
    }
    return false;
}

int census_at_line(PyObject*, PyFrameObject*, int what, PyObject* arg);

void wait_in(PyThreadState* tstate, bool elsewhere) {
    g_line_wait = tstate;
    g_line_wait_since = std::chrono::steady_clock::now();
    g_line_wait_elsewhere = elsewhere;
    g_line_waiting.store(true);
}

// 3.11, from record_block in a thread other than the main one, with the GIL: the census waits
// for this thread's next line (census_at_line), its trace function set here at once. Through
// memslim's asking thread, which has to take the GIL first, the census came 3-56 ms after it
// was asked for while two other threads took turns with the GIL, and one of three workers had
// freed its list by then (tests/integration/test_run.py's three workers: the census at 0.80-0.97
// of the peak with a test run beside it). The asking thread still ends a wait that cannot end
// (census_in_asking_thread, at its ticks) and offers the census where it cannot be offered
// here: the thread traces itself, or another thread waits for its line already.
bool offer_census_here() {
    PyThreadState* me = current_thread_state();
    if (!kTraceOtherThreads || g_line_wait != nullptr || g_census_callback == nullptr ||
        me == nullptr || me->c_tracefunc != nullptr) {
        return false;
    }
    set_trace_of(me, census_at_line);
    wait_in(me, true);
    return true;
}

// With the GIL held, from any thread: no thread waits for its line any more.
void stop_waiting_for_line() {
    if (g_line_wait != nullptr &&
        (g_line_wait == current_thread_state() || thread_exists(g_line_wait)) &&
        g_line_wait->c_tracefunc == census_at_line) {
        set_trace_of(g_line_wait, nullptr);
    }
    g_line_wait = nullptr;
    g_line_wait_elsewhere = false;
    g_line_waiting.store(false);
}

// The census, if it is still due when its moment comes: another thread may have taken it since
// it was asked for (census_before_collection).
//
// One that is no longer due saw its point passed inside one C call (`set(labels)`), the heap
// back below it by the safe point. It is taken all the same when it would see clearly more
// than the last census did (its Python and NumPy bytes, by a quarter of the margin, as
// worth_an_extra_census), and the point stays where it was: a loop whose temporaries pass the
// point each round takes one such census, not one a round.
int census_if_due() {
    if (!census_due()) {
        if (g_recording != nullptr &&
            worth_an_extra_census(visible_bytes(*g_recording), g_last_census_visible)) {
            return census_now(true, true);
        }
        g_census_pending.store(false);
        return 0;
    }
    return census_now(true);
}

// Whether a census may run at this event of the waiting thread's trace function: the start of
// a line, or a return that hands back no object the heap walk could miss (None, or one the
// collector tracks: the walk reads the collector's lists, and what they reach). A function
// whose last line passed the census point (`print(len(set(labels)))` ending `main()`) starts
// no line after it; waiting for the caller's next line, or for the end of the run, left its
// locals (the frame it built, the labels) to no census.
bool safe_point(int what, PyObject* arg) {
    if (what == PyTrace_LINE) return true;
    if (what != PyTrace_RETURN || arg == nullptr || PyErr_Occurred() != nullptr) return false;
    return arg == Py_None || (PyObject_IS_GC(arg) && PyObject_GC_IsTracked(arg));
}

int census_at_line(PyObject*, PyFrameObject*, int what, PyObject* arg) {
    if (current_thread_state() != g_line_wait) {  // left over: nothing waits here any more
        set_trace_of(current_thread_state(), nullptr);
        return 0;
    }
    if (!safe_point(what, arg)) return 0;
    stop_waiting_for_line();
    return census_if_due();
}

// Runs in memslim's asking thread (without the GIL) when a thread other than the main one asked
// for a census (record_block), and at each of its ticks while a thread waits for its line.
//
// The census waits for the start of the asking thread's next line, as the main thread's does:
// its trace function is set from here, with the GIL. Before, it waited for the main thread to
// run the pending call, which a main thread in join() or in a future's result() does only once
// the worker it waits for has ended: a worker's list of 600,000 strings (no container, so no
// collection ran a census either) set the peak and got no census at all. If the main thread
// runs the pending call first, the census is taken there (run_census) and the worker's trace
// function, at its next event, finds nothing to do.
//
// A wait that cannot end is given up, and the census is asked for again by the next
// allocation of any thread: the waiting thread has ended (by an exception: a return is a safe
// point), or the program replaced the trace function (`sys.settrace` on the same line: until
// 2026-12-06 that stopped every later census of the run, the pending flag never reset), or a
// thread other than the main one has waited a tick (it blocked right after it asked, in a
// lock or an Event, while another thread built the peak, which could not ask: found by
// trying threaded programs, the census then saw 10% of the peak).
//
// It takes the GIL with a thread state of its own that is in no interpreter's list of threads:
// only the GIL's hand-over reads it (its interpreter), and nothing runs Python here. A state
// the interpreter knows (PyThreadState_New) showed in the program's sys._current_exceptions()
// and faulthandler's dump of every thread (one kept for the run always, one made for each
// ask while it waited for the GIL), and PyGILState_Ensure, which makes one without the GIL,
// raced with a census in process walking the threads (ThreadSanitizer).
void census_in_asking_thread() {
#if PY_VERSION_HEX < 0x030C0000
    if (!g_active.load() || _Py_IsFinalizing()) return;
    static PyThreadState own{};
    own.interp = PyInterpreterState_Main();
    PyEval_AcquireThread(&own);
    if (g_line_wait != nullptr) {
        const bool ended = !thread_exists(g_line_wait);
        const bool replaced = !ended && g_line_wait->c_tracefunc != census_at_line;
        const bool stalled =
            g_line_wait_elsewhere &&
            std::chrono::steady_clock::now() - g_line_wait_since >= std::chrono::milliseconds(10);
        if (ended || replaced || stalled) {
            if (!ended && !replaced) set_trace_of(g_line_wait, nullptr);
            g_line_wait = nullptr;
            g_line_wait_elsewhere = false;
            g_line_waiting.store(false);
            if (!g_census_running) {
                // The main thread may take it at its next line instead (workers that spend
                // their time in NumPy without the GIL stall every wait: their pool's main
                // thread, waking in map() between results, took every census of the run), or
                // any thread's next allocation asks again.
                Py_AddPendingCall(run_census, nullptr);
                g_census_pending.store(false);
            }
        }
    }
    PyThreadState* asker = g_census_asker.exchange(nullptr);
    if (asker != nullptr && g_census_pending.load() && !g_census_running) {
        if (g_active.load() && g_census_callback != nullptr && g_line_wait == nullptr &&
            thread_exists(asker) && asker->c_tracefunc == nullptr) {
            set_trace_of(asker, census_at_line);
            wait_in(asker, true);
        } else if (Py_AddPendingCall(run_census, nullptr) != 0) {
            // Not offered (the thread traces itself, or has ended): the main thread's, as
            // before 2026-12-06; with no room for that either, the next allocation asks again.
            g_census_pending.store(false);
        }
    }
    PyEval_ReleaseThread(&own);
#endif
}

// Waits for the start of the calling thread's next line (census_at_line), unless the program
// traces itself or an audit hook refuses: false then, and the census runs now.
bool wait_for_line() {
    PyThreadState* tstate = PyThreadState_Get();
    if (g_line_wait != nullptr || tstate->c_tracefunc != nullptr || g_census_callback == nullptr) {
        return false;
    }
    set_trace_of(tstate, census_at_line);  // the pending flag stays set meanwhile
    if (tstate->c_tracefunc == census_at_line) {
        wait_in(tstate, false);
        return true;
    }
    PyErr_Clear();  // an audit hook refused sys.settrace
    return false;
}

int run_census(void*) {
    // A thread waits for its line already: that wait takes the census. (A second call, asked
    // for again while the first waited in the queue, took it at once, off the line.)
    if (g_line_wait != nullptr) return 0;
    // Not in one of memslim's own threads (it records nothing): census_now leaves it to the
    // next allocation of the program's. On 3.12+ a thread other than the main one takes it at
    // once: its wait for the line would go through PyEval_SetTrace, whose audit event the
    // program's hooks saw in the worker (one calling threading.current_thread() in a thread
    // started with _thread added a DummyThread to threading.enumerate(); one refusing the event
    // filled stderr), and a worker that blocked in a C call before its line left its trace
    // function set, which sent every line of every thread through sys.monitoring: the main
    // thread's loop ran 3-6 times slower until the worker woke (found by a helper trying
    // threaded programs, 2026-12-06). What the pending call cannot see is an object the
    // collector does not track held only on the frame's value stack (a bytearray just made).
    if (!t_untracked_thread && census_due() && (kTraceOtherThreads || gettid() == getpid()) &&
        wait_for_line()) {
        return 0;
    }
    return census_if_due();
}

// 3.12+, from record_block (with the GIL, inside an allocation hook) while a census is pending:
// asks again, of whichever thread checks its eval breaker next, when the census cannot come
// where it waits. The main thread, waiting for its line, had the program replace its trace
// function (`sys.settrace` on the asking line: the wait cannot end), or a pending call has not
// run in 10 ms while another thread runs (3.13 signals a pending call to the thread that holds
// the GIL only, and that thread may have ended or blocked in a C call first). Without it, every
// later census of the run waited for that thread. An intact wait is not given up: its trace
// function would stay set until the thread's next event, and every thread's lines go through
// sys.monitoring meanwhile (3.13 exports no way to unset another thread's).
void ask_again_if_stalled() {
    if (g_census_running || g_census_callback == nullptr) return;
    PyThreadState* me = current_thread_state();
    if (g_line_wait != nullptr) {
        if (g_line_wait != me && g_line_wait_elsewhere) return;  // not read: it may have ended
        if (g_line_wait->c_tracefunc == census_at_line) return;  // its line comes
    } else {
        if (g_census_asked_by == me) return;  // its own eval breaker comes
        if (std::chrono::steady_clock::now() - g_census_asked_at < std::chrono::milliseconds(10)) {
            return;
        }
    }
    g_line_wait = nullptr;
    g_line_wait_elsewhere = false;
    g_line_waiting.store(false);
    g_census_asked_at = std::chrono::steady_clock::now();
    g_census_asked_by = me;
    if (add_pending_call_in_any_thread(run_census) != 0) g_census_pending.store(false);
}

int census_now(bool can_raise, bool keep_point) {
    if (g_census_running) return 0;  // the one running ends by resetting the pending flag
    const bool forced = std::exchange(g_census_forced, false);
    // A census scheduled at a plateau may run after the program started freeing: one below the
    // last census would replace a census nearer the peak. Skip it.
    // Below in traced bytes and in what a census sees, both: after a CSV parse's census (its
    // native buffers, few objects), the frame it made and what the program builds on it held
    // less in all, and no census saw them. (Never for a census due at its margin's point,
    // which is above the last census's traced bytes: one skipped while due was asked for
    // again at every allocation.)
    const bool below_last =
        !forced && g_recording &&
        g_recording->current_mirror.load() < g_last_census_bytes.load() &&
        visible_bytes(*g_recording) < g_last_census_visible.load();
    // Nor during an import: what grows there is modules, functions and classes, not what a
    // program's peak is made of, and importing pandas or scikit-learn passed a margin every
    // 50 ms (25-40 forks, each making the program copy the pages it wrote while a child
    // lived). The margin moves on as if a census had been taken, and the plateau trigger, still
    // comparing with the last real census, takes one once the heap holds after the imports.
    if (g_import_code != nullptr && g_recording && thread_runs_code(g_import_code)) {
        schedule_next_census(g_recording->current_mirror.load());
        if (forced && g_forced_point > g_next_census.load()) g_next_census.store(g_forced_point);
        g_census_pending.store(false);
        return 0;
    }
    if (g_active.load() && g_census_callback != nullptr && !t_in_hook && !t_untracked_thread &&
        !below_last) {
        g_census_running = true;
        g_running_follow_up = forced;
        const auto began = Clock::now();
        // What the census was asked to see: traced bytes before it, not after it (the callback
        // releases the GIL after its fork, and other threads may have freed much meanwhile: a
        // next point and a "last census" set from there let a later census below this one
        // replace it).
        const std::int64_t traced_before = g_recording->current_mirror.load();
        const std::int64_t visible_before = visible_bytes(*g_recording);
        const int gc_was_enabled = PyGC_Disable();
        PyObject* result = nullptr;
        {
            UntrackedScope untracked;  // memslim's own allocations: not the program's
            // Nor are its frames: a program's own sys.settrace/setprofile function (a
            // debugger, coverage) saw the census's Python calls (take_census, _reap, ...)
            // as the program's.
            PyThreadState* tstate = PyThreadState_Get();
            PyThreadState_EnterTracing(tstate);
            // Nor its recursion: a census due in a program recursing near its limit raised a
            // RecursionError in memslim's callback ("Exception ignored" on the program's stderr).
            credit_recursion(kCensusRecursion);
            result = PyObject_CallNoArgs(g_census_callback);
            credit_recursion(-kCensusRecursion);
            PyThreadState_LeaveTracing(tstate);
        }
        int status = 0;
        // False: not now (a fork here would wait on a lock this thread holds). Nothing was
        // taken: the census stays due and is asked for again at the next allocation.
        const bool deferred = result == Py_False;
        if (result == nullptr) {
            status = after_failed_census(can_raise);
        } else {
            Py_DECREF(result);
        }
        if (gc_was_enabled) PyGC_Enable();
        g_census_running = false;
        g_running_follow_up = false;
        if (deferred) {
            if (forced) g_census_forced = true;
            g_census_pending.store(false);
            return 0;
        }
        const auto ended = Clock::now();
        g_census_seconds += std::chrono::duration<double>(ended - began).count();
        const double elapsed = std::chrono::duration<double>(ended - g_recording->started).count();
        if (g_census_seconds >
            g_census_budget.share * elapsed + g_census_budget.allowance_seconds) {
            g_census_margin_now.store(g_census_margin_now.load() * 2);
        }
        const std::int64_t traced = traced_before;
        g_last_census_bytes.store(traced);
        g_last_census_visible.store(visible_before);
        const std::int64_t point = forced ? g_forced_point : g_next_census.load();
        schedule_next_census(traced);
        if ((keep_point || forced) && point > g_next_census.load()) g_next_census.store(point);
        g_census_pending.store(false);
        return status;
    }
    // Not taken here: a census asked for at a plateau (census_at_plateau) leaves the margin's
    // next point as it was, or every allocation would ask again.
    if (g_census_callback != nullptr && g_next_census.load() == 0) {
        if (forced) {
            g_next_census.store(g_forced_point);
        } else {
            schedule_next_census(g_last_census_bytes.load());
        }
    }
    g_census_pending.store(false);
    return 0;
}

// The stats of the site in `slot`; false if it never allocated. Needs `rec.lock`.
bool stats_of_slot(const Recording& rec, std::uint32_t slot, SiteStats* stats) {
    if (rec.peak.allocations(slot) == 0) return false;
    const auto gc_freed = rec.gc_freed.find(slot);
    *stats = {rec.node_of_slot[slot],
              rec.peak.at_peak(slot),
              rec.peak.live(slot),
              rec.peak.allocated(slot),
              rec.peak.allocations(slot),
              gc_freed == rec.gc_freed.end() ? 0 : gc_freed->second,
              rec.domain_of_slot[slot],
              rec.peak.high(slot),
              rec.peak.total_at_high(slot)};
    return true;
}

}  // namespace

bool hooked_allocator_original(PyMemAllocatorDomain domain, PyMemAllocatorEx* original) {
    PyMemAllocatorEx current{};
    PyMem_GetAllocator(domain, &current);
    for (const DomainHook& hook : g_hooks) {
        if (hook.domain == domain && current.ctx == &hook) {
            *original = hook.original;
            return true;
        }
    }
    return false;
}

void set_census(PyObject* callback, double margin, std::int64_t first_bytes,
                CensusBudget budget) {
    stop_waiting_for_line();
    Py_XINCREF(callback);
    Py_XDECREF(g_census_callback);
    g_census_callback = callback;
    Py_CLEAR(g_import_code);
    if (callback != nullptr) {
        // Without it (an interpreter that imports otherwise), censuses run during imports too.
        PyObject* importlib = PyImport_ImportModule("_frozen_importlib");
        PyObject* find = importlib ? PyObject_GetAttrString(importlib, "_find_and_load") : nullptr;
        g_import_code = find ? PyObject_GetAttrString(find, "__code__") : nullptr;
        Py_XDECREF(find);
        Py_XDECREF(importlib);
        if (g_import_code == nullptr) PyErr_Clear();
    }
    g_census_margin_now.store(margin);
    g_census_budget = budget;
    g_census_seconds = 0;
    g_next_census.store(callback != nullptr ? first_bytes : INT64_MAX);
    g_first_census_bytes.store(callback != nullptr ? first_bytes : INT64_MAX);
    g_last_census_bytes.store(0);
    g_last_census_visible.store(0);
}

bool start_tracking(const TrackOptions& options) {
    if (g_active.load() || g_timeline != nullptr) {
        PyErr_SetString(PyExc_RuntimeError, "memslim is already tracking allocations");
        return false;
    }
    static std::once_flag fork_handlers;
    std::call_once(fork_handlers,
                   [] { pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child); });
    reset_tracker();
    g_recording = std::make_unique<Recording>(options);
    if (options.mode == TrackMode::kSample) {
        g_recording->filter = std::make_unique<engine::CountingFilter>();
        const std::uint64_t seed = options.seed != 0 ? options.seed : std::random_device{}();
        g_seed_base.store(seed);
        g_seed_steps.store(0);
    }
    g_starting_thread.store(pthread_self());  // the sampler's seed, and record_block's runner
    g_recording->timeline = engine::Timeline(options.timeline_points);
    g_generation.fetch_add(1);
    g_forked_child.store(false);

    PyMemAllocatorEx hooked{};
    for (DomainHook& hook : g_hooks) {
        PyMem_GetAllocator(hook.domain, &hook.original);
        hooked = PyMemAllocatorEx{&hook, hook_malloc, hook_calloc, hook_realloc, hook_free};
        PyMem_SetAllocator(hook.domain, &hooked);
    }
    g_stop_frame = options.stacks_above_caller ? current_frame() : nullptr;
    hide_import_system_frames(options.fold_imports);
    g_recording->restart_clocks();
    start_timeline(g_recording.get());
    g_active.store(true);
    return true;
}

bool restart_in_forked_child() {
    if (!g_recording || !g_forked_child.load() || g_census_child) {
        PyErr_SetString(PyExc_RuntimeError,
                        "memslim: not a child forked while tracking, nothing to restart");
        return false;
    }
    const TrackOptions options = g_recording->options;
    // The parent's records stay where they are, never freed here: freeing them would write to
    // every page that holds them, and each write copies a page the child shares with its
    // parent. The hooks stay installed (g_hooks keeps the allocators they forward to), and so
    // do NumPy's handler and the native hooks: they report to whatever g_recording is.
    static_cast<void>(g_recording.release());
    g_recording = std::make_unique<Recording>(options);
    if (options.mode == TrackMode::kSample) {
        g_recording->filter = std::make_unique<engine::CountingFilter>();
        g_seed_base.store(g_seed_base.load() ^ static_cast<std::uint64_t>(getpid()));
        g_seed_steps.store(0);
    }
    g_starting_thread.store(pthread_self());  // the thread that forked: the child's only one
    g_recording->timeline = engine::Timeline(options.timeline_points);
    g_generation.fetch_add(1);  // threads' stack caches and samplers belong to the parent's
    g_recording->restart_clocks();
    g_forked_child.store(false);
    start_timeline(g_recording.get());
    g_active.store(true);
    return true;
}

void stop_tracking() {
    if (!g_recording || g_forked_child.load()) {
        g_active.store(false);
        return;
    }
    if (!g_active.load()) return;
    g_active.store(false);
    stop_waiting_for_line();
    for (DomainHook& hook : g_hooks) {
        // Only where memslim's hook is still the allocator: one set since (by the program)
        // sits on ours, and one put back beneath ours has dropped it. tracemalloc.stop() puts
        // back the allocator it saved when it started: under `python -X tracemalloc`, before
        // memslim, that left memslim's hooks out, and setting their original (tracemalloc's,
        // its tables freed) again crashed the next allocation.
        PyMemAllocatorEx current{};
        PyMem_GetAllocator(hook.domain, &current);
        if (current.ctx == &hook) PyMem_SetAllocator(hook.domain, &hook.original);
    }
    uninstall_numpy_handler();
    uninstall_native_hooks();
    stop_timeline();
    wait_for_recording_scopes();  // hooks without the GIL that saw tracking run are done
    Recording& rec = *g_recording;
    rec.lock.lock();
    const double now = rec.seconds_since_start();
    rec.save_peak_if_at_it();
    const std::int64_t current = rec.peak.current();
    rec.lock.unlock();
    std::lock_guard<std::mutex> hold(rec.timeline_mutex);
    rec.timeline.add(rec.timeline_point(now, current, read_rss_bytes()));
}

RecordingScope::RecordingScope() noexcept {
    if (t_shard_plus_one == 0) {
        t_shard_plus_one = g_next_shard.fetch_add(1, std::memory_order_relaxed) % kScopeShards + 1;
    }
    shard_ = &g_scopes[t_shard_plus_one - 1].count;
    shard_->fetch_add(1);  // announced before g_active is read (wait_for_recording_scopes)
    recording_ = !t_in_hook && g_active.load();
}

RecordingScope::~RecordingScope() {
    shard_->fetch_sub(1, std::memory_order_release);
}

void record_allocation(const void* ptr, std::size_t size, Domain domain) {
    // A caller without the GIL is charged through its own frames (record_block).
    record_new(ptr, size, PyGILState_Check() != 0, domain);
}

void intern_stack_before_release() {
    if (!recording() || !PyGILState_Check() ||
        g_out_of_own_memory.load(std::memory_order_relaxed)) {
        return;
    }
    UntrackedScope untracked;
    try {
        intern_current_stack(*g_recording);
    } catch (const std::bad_alloc&) {
        ran_out_of_own_memory(*g_recording);
    }
}

double own_memory_ran_out_at() {
    return g_out_of_own_memory.load() ? g_out_of_own_memory_at.load() : -1.0;
}

bool forget_allocation(const void* ptr, engine::LiveBlock* block) {
    return ptr != nullptr &&
           forget_block(*g_recording, reinterpret_cast<std::uintptr_t>(ptr), block, false, true);
}

void restore_allocation(const void* ptr, const engine::LiveBlock& block) {
    restore_block(*g_recording, reinterpret_cast<std::uintptr_t>(ptr), block, true);
}

bool is_tracking() {
    return g_active.load();
}

bool sites_known() {
    return g_active.load() || (g_census_child && g_recording);
}

bool sites_sampled() {
    return sites_known() && g_recording->options.mode == TrackMode::kSample;
}

PyObject* g_census_child_hooks = nullptr;  // see set_census_child_hooks
Py_ssize_t g_census_child_hooks_keep = 0;

void set_census_child_hooks(PyObject* hooks, Py_ssize_t keep) {
    Py_XINCREF(hooks);
    Py_XSETREF(g_census_child_hooks, hooks);
    g_census_child_hooks_keep = keep;
}

// 3.13+: the interpreter's lists of `before` and `after_in_parent` fork hooks (see
// set_census_fork_hooks), emptied around a census fork.
PyObject* g_census_parent_hooks[2] = {nullptr, nullptr};

void set_census_fork_hooks(PyObject* before, PyObject* after_in_parent) {
    PyObject* lists[2] = {before, after_in_parent};
    for (int i = 0; i < 2; ++i) {
        Py_XINCREF(lists[i]);
        Py_XSETREF(g_census_parent_hooks[i], lists[i]);
    }
}

#if PY_VERSION_HEX >= 0x030D0000
// The hooks of g_census_parent_hooks, taken out for one census fork and put back after it.
// 3.11 and 3.12 run none of them at a census fork (nor does os.fork's child see a difference);
// 3.13's PyOS_BeforeFork, which census_fork needs for the import lock, runs the `before` ones
// and PyOS_AfterFork_Parent the `after_in_parent` ones: the program's ran once per census (a
// hook that counts forks, or logs them; logging's and concurrent.futures' take and release
// their locks there).
class ParentHooksSetAside {
  public:
    ParentHooksSetAside() {
        for (int i = 0; i < 2; ++i) {
            PyObject* hooks = g_census_parent_hooks[i];
            if (hooks == nullptr || !PyList_Check(hooks) || PyList_GET_SIZE(hooks) == 0) continue;
            saved_[i] = PyList_GetSlice(hooks, 0, PyList_GET_SIZE(hooks));
            if (saved_[i] == nullptr ||
                PyList_SetSlice(hooks, 0, PyList_GET_SIZE(hooks), nullptr) != 0) {
                PyErr_Clear();
                Py_CLEAR(saved_[i]);
            }
        }
    }
    // In the parent: put back in front of any registered meanwhile (PyOS_BeforeFork may wait
    // for the import lock with the GIL released, and another thread register one).
    void restore() {
        for (int i = 0; i < 2; ++i) {
            if (saved_[i] == nullptr) continue;
            if (PyList_SetSlice(g_census_parent_hooks[i], 0, 0, saved_[i]) != 0) PyErr_Clear();
            Py_CLEAR(saved_[i]);
        }
    }
    // In the child: kept aside (the child runs no Python fork hook of these again).
    void forget() {
        for (PyObject*& saved : saved_) Py_CLEAR(saved);
    }
    ParentHooksSetAside(const ParentHooksSetAside&) = delete;
    ParentHooksSetAside& operator=(const ParentHooksSetAside&) = delete;
    ~ParentHooksSetAside() { forget(); }

  private:
    PyObject* saved_[2] = {nullptr, nullptr};
};
#endif

// How long census_fork waits for threads in native code without the GIL to leave it.
constexpr std::chrono::milliseconds kNativeWait{5};

namespace {

// In a census child, first of all: closes every descriptor it inherited above stderr but
// `keep`, points stdin and stdout at /dev/null, then closes `keep`, which tells the parent.
// (The program's signal wakeup descriptor, whose number the child may open next, is dropped
// by forked_census.py before it opens any.)
// The child writes its census to files it opens itself. One that held the program's
// descriptors kept its pipes and sockets open while it walked: a subprocess whose stdin the
// program had closed saw its end 0.35 s late (a helper's programs, 2026-12-06), and a peer
// waits so for a connection the program has closed. Stderr stays, for a sanitizer's or
// Python's last word.
void let_go_of_the_programs_files(int keep) {
    const auto close_from = [](unsigned first, unsigned last) {
        if (first > last) return;
        if (close_range(first, last, 0) == 0) return;
        const long open_max = sysconf(_SC_OPEN_MAX);
        const unsigned end = std::min<unsigned>(last, open_max > 0 ? open_max : 1 << 16);
        for (unsigned fd = first; fd <= end; ++fd) close(static_cast<int>(fd));
    };
    if (keep >= 3) {
        close_from(3, static_cast<unsigned>(keep) - 1);
        close_from(static_cast<unsigned>(keep) + 1, ~0U);
    } else {
        close_from(3, ~0U);
    }
    if (const int null = open("/dev/null", O_RDWR | O_CLOEXEC); null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        if (null > 2) close(null);
    }
    if (keep >= 0) close(keep);
}

// In the parent: waits until the child has closed its end of the pipe (let_go_of_the_programs_
// files), so that none of the program's descriptors is held by a census child once the
// program runs on: the program closes a pipe's end and its reader sees the end at once.
void wait_until_closed(int fd) {
    char byte = 0;
    while (read(fd, &byte, 1) < 0 && errno == EINTR) {
    }
}

}  // namespace

long census_fork() {
    const pid_t parent = getpid();
    // The parent-death signal comes when the *thread* that forked ends: a census taken in a
    // worker thread's collection (census_before_collection) would die with that thread, most
    // often at once. There the walk, which ends by itself, goes without it.
    const bool main_thread = gettid() == parent;
#if PY_VERSION_HEX >= 0x030D0000
    // 3.13's PyOS_AfterFork_Child releases the import lock that PyOS_BeforeFork took (it is a
    // fatal error otherwise). The two also run the fork hooks registered with
    // os.register_at_fork(before=..., after_in_parent=...), set aside here meanwhile.
    ParentHooksSetAside set_aside;
    PyOS_BeforeFork();
#endif
    // Checked here, with the GIL held from now until the fork: a thread that entered OpenBLAS
    // between a check and the fork hung the program (OpenBLAS's fork handler waits for its
    // threads: 9 runs in 12 of four NumPy workers on 3.12 once a worker's census forked in the
    // worker, when forked_census.take checked and then released the GIL; 3.13's
    // PyOS_BeforeFork may release it too, for the import lock). A thread raises the count while
    // it still holds the GIL, so none can enter now, and one in native code lowers it as it
    // leaves, before it waits for the GIL: those inside are waited for, a few milliseconds at
    // most (a matrix product of a few hundred rows takes about one). Else EBUSY: the caller
    // walks the heap in this process instead. Those NumPy workers' run took 2.4 s (plain 0.62)
    // when every census that found one of them inside walked in process.
    const auto waited_from = std::chrono::steady_clock::now();
    while (native_threads_without_gil() > 0 &&
           std::chrono::steady_clock::now() - waited_from < kNativeWait) {
        sched_yield();
    }
    if (native_threads_without_gil() > 0) {
#if PY_VERSION_HEX >= 0x030D0000
        PyOS_AfterFork_Parent();
        set_aside.restore();
#endif
        errno = EBUSY;
        return -1;
    }
    // The child tells the parent through `let_go` once it has closed the program's files.
    int let_go[2] = {-1, -1};
    if (pipe2(let_go, O_CLOEXEC) != 0) let_go[0] = let_go[1] = -1;
    const pid_t pid = fork();
    if (pid != 0) {
        if (let_go[1] >= 0) {
            close(let_go[1]);
            if (pid > 0) wait_until_closed(let_go[0]);
            close(let_go[0]);
        }
#if PY_VERSION_HEX >= 0x030D0000
        PyOS_AfterFork_Parent();
        set_aside.restore();
#endif
        return pid;
    }
    let_go_of_the_programs_files(let_go[1]);
    if (let_go[0] >= 0) close(let_go[0]);
    g_census_child = true;
    // The program's own after-fork hooks are for its own children: in a census child they wrote
    // to the program's stdout, once per census (a hook that logs, or reconnects, does the
    // same), found by trying threaded programs (2026-12-06). The interpreter's and memslim's
    // (registered before the program ran: threading's, which the census needs) still run.
    if (g_census_child_hooks != nullptr && PyList_Check(g_census_child_hooks) &&
        PyList_GET_SIZE(g_census_child_hooks) > g_census_child_hooks_keep &&
        PyList_SetSlice(g_census_child_hooks, g_census_child_hooks_keep,
                        PyList_GET_SIZE(g_census_child_hooks), nullptr) != 0) {
        PyErr_Clear();
    }
    PyOS_AfterFork_Child();
    // Signals meant for the program (a terminal's Ctrl-C reaches the whole process group) end
    // the child at once instead of running the program's handlers here.
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) std::signal(sig, SIG_DFL);
    if (main_thread) prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);  // the parent died before prctl
    // The child takes next to no CPU time that the program wants: the program (and its
    // threads) runs first. On two cores, two walking children at normal priority took a third
    // of the program's core. The newest child runs as a batch job at the lowest nice level (a
    // share of 15 against a nice-0 thread's 1024) rather than at idle priority: when a newer
    // child is forked, the parent moves this one to SCHED_IDLE (forked_census.py, `demote`), so
    // the child nearest the peak, the one the report waits for, no longer shares the spare core
    // equally with an older one (json_csv_pipeline: the report waited 0.25 s for it at the
    // median of five runs, 0.15 s now). When the program has ended, the report promotes the
    // children it waits for.
    const sched_param batch{};
    sched_setscheduler(0, SCHED_BATCH, &batch);
    setpriority(PRIO_PROCESS, 0, 19);
    // When the machine runs out of memory, the kernel kills the child, not the program: the
    // child's RSS counts every page it shares with the program, so it would be the largest
    // process (the program's own pages included) and, without this, a likely victim too.
    if (const int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC); fd >= 0) {
        const ssize_t wrote = write(fd, "1000", 4);
        static_cast<void>(wrote);  // a kernel without it: the default score
        close(fd);
    }
    return 0;
}

bool in_forked_child() {
    return g_forked_child.load();
}

void hold_timeline_lock(double seconds, int ready_fd) {
    if (!g_recording) return;
    std::lock_guard<std::mutex> hold(g_recording->timeline_mutex);
    const char ready = 1;
    if (write(ready_fd, &ready, 1) != 1) return;
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

bool in_census_child() {
    return g_census_child;
}

std::uint64_t recording_generation() {
    return g_generation.load();
}

std::size_t recorded_tree_size() {
    const RecordingLock hold;
    return hold.recorded() ? hold.tree().size() : 0;
}

std::int64_t traced_bytes() {
    if (!g_recording) return 0;
    std::lock_guard<SpinLock> hold(g_recording->lock);
    return g_recording->peak.current();
}

std::int64_t visible_traced_bytes() {
    return g_recording ? visible_bytes(*g_recording) : 0;
}

bool census_is_follow_up() {
    return g_running_follow_up;
}

bool settle_censuses(double max_seconds) {
    set_census(nullptr, 0.1, 0, CensusBudget{});
    stop_asking_thread();
    const auto until = Clock::now() + std::chrono::duration<double>(max_seconds);
    while (g_census_running) {  // in another thread, which released the GIL inside it
        if (Clock::now() >= until) return false;
        PyThreadState* saved = PyEval_SaveThread();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        PyEval_RestoreThread(saved);
    }
    return true;
}

void census_raised_for_the_program(PyObject* exception) {
    Py_XINCREF(exception);
    Py_XSETREF(g_programs_exception, exception);
}

void census_after_return(std::span<PyObject* const> codes) {
    g_follow_count.store(0, std::memory_order_relaxed);
    const std::size_t count = std::min(codes.size(), kFollowCodes);
    for (std::size_t i = 0; i < count; ++i) {
        g_follow_codes[i] = reinterpret_cast<std::uintptr_t>(codes[i]);
    }
    g_follow_count.store(count, std::memory_order_relaxed);
}

std::int64_t peak_traced_bytes() {
    if (!g_recording) return 0;
    std::lock_guard<SpinLock> hold(g_recording->lock);
    return g_recording->peak.peak();
}

std::array<std::int64_t, kDomains> live_bytes_by_domain() {
    std::array<std::int64_t, kDomains> live{};
    if (!g_recording) return live;
    Recording& rec = *g_recording;
    std::lock_guard<SpinLock> hold(rec.lock);
    for (std::uint32_t slot = 0; slot < rec.peak.sites(); ++slot) {
        live[static_cast<std::size_t>(rec.domain_of_slot[slot])] += rec.peak.live(slot);
    }
    return live;
}

std::uint64_t untouched_bytes() {
    if (!g_recording) return 0;
    Recording& rec = *g_recording;
    constexpr std::uint64_t kLarge = std::uint64_t{64} << 10;
    // (address, size, weight) of the large blocks, copied under the lock (its holder records
    // nothing: the vector's own memory is not the program's, and its free finds no record);
    // mincore runs after, without it.
    std::vector<std::array<std::uint64_t, 3>> large;
    {
        std::lock_guard<SpinLock> hold(rec.lock);
        if (rec.filter) {
            const double mean = rec.options.sample_interval_bytes;
            rec.samples.for_each([&](std::uintptr_t address, engine::LiveBlock block) {
                const auto weight = static_cast<double>(block.size);
                if (weight < std::max(4 * mean, static_cast<double>(kLarge))) return;
                // The size whose weight this is: s = w (1 - exp(-s / mean)), by iteration from
                // s = w (within 2% of w here; four steps leave far less than a page).
                double size = weight;
                for (int i = 0; i < 4; ++i) size = weight * -std::expm1(-size / mean);
                large.push_back({address, static_cast<std::uint64_t>(size), block.size});
            });
        } else {
            rec.blocks.for_each_large([&](std::uintptr_t address, engine::LiveBlock block) {
                if (block.size >= kLarge) large.push_back({address, block.size, block.size});
            });
        }
    }
    double untouched = 0;
    for (const auto& [address, size, weight] : large) {
        // A block freed meanwhile (another thread) may be unmapped: nothing is known of it.
        const auto missing = engine::not_resident_bytes(address, size);
        if (missing && size > 0) {
            untouched += static_cast<double>(*missing) * static_cast<double>(weight) /
                         static_cast<double>(size);
        }
    }
    return static_cast<std::uint64_t>(untouched);
}

TrackResult collect_result(bool with_sites) {
    TrackResult result;
    if (!g_recording) return result;
    Recording& rec = *g_recording;
    std::lock_guard<SpinLock> hold(rec.lock);
    if (g_active.load()) {
        rec.save_peak_if_at_it();  // still tracking
    }
    result.mode = rec.options.mode;
    result.sample_interval_bytes = rec.options.sample_interval_bytes;
    result.current_bytes = rec.peak.current();
    result.peak_bytes = rec.peak.peak();
    result.peak_seconds = rec.peak_seconds();
    result.peak_standard_error = std::sqrt(std::max(0.0, rec.variance_at_peak));
    {
        std::lock_guard<std::mutex> hold_timeline(rec.timeline_mutex);
        result.timeline = rec.timeline.points();
    }
    result.elapsed_seconds = result.timeline.empty() ? 0 : result.timeline.back().seconds;
    if (const std::int64_t peak_rss = read_peak_rss_bytes(); peak_rss > 0) {
        result.peak_rss_bytes = static_cast<std::uint64_t>(peak_rss);
    } else if (rusage usage{}; getrusage(RUSAGE_SELF, &usage) == 0) {
        result.peak_rss_bytes = static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;
    }
    result.stack_bytes = rec.tree.memory_bytes();
    result.site_bytes = rec.slot_of_node.memory_bytes() + rec.node_of_slot.memory_bytes() +
                        rec.domain_of_slot.memory_bytes() + rec.other_slots.size() * 32 +
                        rec.peak.memory_bytes() +
                        rec.gc_freed.bucket_count() * sizeof(void*) +
                        rec.gc_freed.size() * 32;  // a node: next, key, value, hash
    result.block_bytes = rec.held_block_bytes() + rec.released_block_bytes;
    result.released_bytes = rec.released_block_bytes;
    result.bookkeeping_bytes = result.stack_bytes + result.site_bytes + result.block_bytes;
    if (with_sites) {
        result.sites.reserve(rec.peak.sites());
        SiteStats stats{};
        for (std::uint32_t slot = 0; slot < rec.peak.sites(); ++slot) {
            if (stats_of_slot(rec, slot, &stats)) result.sites.push_back(stats);
        }
    }
    return result;
}

std::vector<engine::Frame> site_frames(engine::SiteId site) {
    if (!g_recording) return {};
    std::lock_guard<SpinLock> hold(g_recording->lock);
    std::vector<engine::Frame> frames;
    if (site >= g_recording->tree.size()) return frames;
    for (engine::NodeId node = site; node != engine::FrameTree::kRoot;
         node = g_recording->tree.parent(node)) {
        frames.push_back(g_recording->tree.frame(node));
    }
    return frames;
}

UntrackedScope::UntrackedScope() : was_(t_in_hook) {
    t_in_hook = true;
}
UntrackedScope::~UntrackedScope() {
    t_in_hook = was_;
}

RecordingLock::RecordingLock() {
    if (g_recording) g_recording->lock.lock();
}
RecordingLock::~RecordingLock() {
    if (g_recording) g_recording->lock.unlock();
}
bool RecordingLock::recorded() const {
    return g_recording != nullptr;
}
const engine::FrameTree& RecordingLock::tree() const {
    return g_recording->tree;
}
std::size_t RecordingLock::site_slots() const {
    return g_recording->peak.sites();
}
bool RecordingLock::site_stats(std::size_t slot, SiteStats* stats) const {
    return stats_of_slot(*g_recording, static_cast<std::uint32_t>(slot), stats);
}

namespace {

// A site's bytes in every domain, as `of(slot)` reads them from the peak tracker.
template <class Read>
std::int64_t site_bytes(engine::SiteId site, Read of) {
    if (!g_recording) return 0;
    Recording& rec = *g_recording;
    std::lock_guard<SpinLock> hold(rec.lock);
    if (site >= rec.slot_of_node.size()) return 0;
    std::int64_t bytes = rec.slot_of_node[site] != 0 ? of(rec, rec.slot_of_node[site] - 1) : 0;
    // Python's domain and NumPy's only: what a census sees (its objects' sizes, an array's
    // buffer with the array). A parser's native buffers at the same stack were counted too,
    // and its strings' finding scaled by them: pandas 3.1's read_csv line, 91 KB of strings in
    // the census, 659 MB at the peak.
    for (std::size_t d = 1; d <= static_cast<std::size_t>(Domain::kNumpy); ++d) {
        const auto other = rec.other_slots.find(std::uint64_t{site} * kDomains + d);
        if (other != rec.other_slots.end()) bytes += of(rec, other->second - 1);
    }
    return bytes;
}

}  // namespace

std::int64_t site_bytes_at_peak(engine::SiteId site) {
    return site_bytes(site, [](const Recording& rec, std::uint32_t slot) {
        return rec.peak.at_peak(slot);
    });
}

std::int64_t site_bytes_live(engine::SiteId site) {
    return site_bytes(site,
                      [](const Recording& rec, std::uint32_t slot) { return rec.peak.live(slot); });
}

bool site_of_block(std::uintptr_t address, engine::SiteId* site) {
    if (!g_recording) return false;
    Recording& rec = *g_recording;
    // Sample mode: nearly every object of a census was not sampled, and the filter says so
    // from a line of the heap's neighbourhood, where the map's hash sent each lookup to a
    // random slot (a fifth of the census children's time on the JSON/CSV bench, perf).
    if (rec.filter && !rec.filter->may_contain(address)) return false;
    engine::LiveBlock block;
    std::lock_guard<SpinLock> hold(rec.lock);
    const bool found =
        rec.filter ? rec.samples.find(address, &block) : rec.blocks.find(address, &block);
    if (found) *site = rec.node_of_slot[block.site];
    return found;
}

bool requested_bytes_of_block(std::uintptr_t address, std::uint64_t* bytes) {
    if (!g_recording || g_recording->filter) return false;
    Recording& rec = *g_recording;
    engine::LiveBlock block;
    std::lock_guard<SpinLock> hold(rec.lock);
    if (!rec.blocks.find(address, &block)) return false;
    *bytes = block.size;
    return true;
}

bool site_of_object(PyObject* o, engine::SiteId* site) {
    if (PyList_CheckExact(o)) {
        // The item array first: it is allocated for this list, where its struct may come from
        // the interpreter's free list, whose block stays recorded at the site that first made
        // it (a list freed while importing, reused by a list comprehension: the census put
        // 1.5 million floats' list on an import line).
        auto* items = reinterpret_cast<PyListObject*>(o)->ob_item;
        if (items != nullptr && site_of_block(reinterpret_cast<std::uintptr_t>(items), site)) {
            return true;
        }
        return site_of_block(allocation_address(o), site);
    }
    if (site_of_block(allocation_address(o), site)) return true;
    if (PyDict_CheckExact(o)) {
        auto* dict = reinterpret_cast<PyDictObject*>(o);
        if (dict->ma_values == nullptr && dict->ma_keys != nullptr) {
            return site_of_block(reinterpret_cast<std::uintptr_t>(dict->ma_keys), site);
        }
    }
    return false;
}

void census_before_collection(int generation) {
    if (!g_recording || !g_active.load() || g_census_running) return;
    // Every collection in every thread comes here: the mirrors, not the tracker's lock.
    const std::int64_t current = g_recording->current_mirror.load(std::memory_order_relaxed);
    const std::int64_t peak = g_recording->peak_mirror.load(std::memory_order_relaxed);
    const bool at_peak = generation == 2 && !g_census_pending.load() &&
                         current * 100 >= peak * 97 && worth_an_extra_census(current);
    if (!census_due() && !at_peak) return;
    g_census_pending.store(true);
    census_now(false);  // inside the collector's callback: nothing may be raised from here
}

void untrack_this_thread() {
    t_untracked_thread = true;
}

bool set_thread_tracked(bool tracked) {
    return !std::exchange(t_untracked_thread, !tracked);
}

void set_gc_collecting(bool collecting) {
    t_gc_collecting = collecting;
}

void release_blocks() {
    if (g_active.load() || !g_recording) return;
    Recording& rec = *g_recording;
    std::lock_guard<SpinLock> hold(rec.lock);
    rec.released_block_bytes += rec.held_block_bytes();
    rec.blocks.clear();
    rec.samples = engine::LiveMap{};
    rec.filter.reset();
}

void reset_tracker() {
    if (g_active.load() || !g_recording) return;
    release_stack_index();  // it borrows the code objects released below
    const engine::FrameTree& tree = g_recording->tree;
    for (engine::NodeId node = 1; node < tree.size(); ++node) {
        Py_DECREF(reinterpret_cast<PyObject*>(tree.frame(node).code));  // one reference per node
    }
    g_recording.reset();
}

}  // namespace memslim::cpython
