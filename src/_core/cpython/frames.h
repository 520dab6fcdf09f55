// frames.h — read the calling thread's Python stack without creating any Python object.
//
// The interpreter's frame layout differs by version; frames.cpp mirrors the few fields it reads
// for each supported version. Everything here requires the calling thread to hold the GIL.
#pragma once

#include <Python.h>

#include <cstddef>
#include <span>

#include "engine/frame_tree.h"

namespace memslim::cpython {

// Stacks deeper than this keep their innermost frames.
constexpr std::size_t kMaxStackDepth = 128;

// Writes the current thread's Python frames, innermost first, as (code object address,
// instruction index); returns how many. C-stack shim frames are skipped. The walk stops before
// `stop_frame` (an opaque frame handle from current_frame(), or nullptr for the whole stack).
std::size_t capture_stack(engine::Frame* out, std::size_t capacity, const void* stop_frame);

// The raw frames one capture passed (every one: shims and the import system's too), so that
// the next capture on the thread can tell that its frames are still these without walking
// them: each recorded frame's fields are read from its known address, so the loads do not
// wait on one another as a walk's `previous` chain does (check_frames). `count` 0 when nothing
// usable is recorded (no frame, more than kCapacity passed, or cleared by its owner when its
// cached stack changed otherwise).
struct FrameChain {
    struct Entry {
        const void* frame;
        const void* code;
        const void* instruction;
        const void* globals;
        const void* self;  // a thread pool's work item, for the frame that runs it (else null)
        bool shim;
    };
    static constexpr std::size_t kCapacity = 32;
    std::size_t count = 0;
    const void* tstate = nullptr;
    const void* stop_frame = nullptr;
    const void* work_item_run = nullptr;
    // What the last entry's `previous` was, when the walk went on to it (it ended at the
    // stack's bottom or at the stop frame); not compared when the walk stopped for its
    // capacity or at a work item's link.
    const void* tail = nullptr;
    bool check_tail = false;
    // The first frame passed is the stack's innermost as read (no shim, no import system's
    // frame, nothing folded, no link): when only its instruction moved, the stack read is the
    // same with that frame's instruction changed.
    bool innermost_moves = false;
    Entry entries[kCapacity];
};

// The same, and sets *same when the stack read is `expected` exactly (innermost first): each
// frame is compared as it is read, where the walk waits on the next frame's address anyway.
// Records the frames it passed in `chain` (when not null), and sets *passed to their number.
std::size_t capture_stack_compared(engine::Frame* out, std::size_t capacity,
                                   const void* stop_frame, std::span<const engine::Frame> expected,
                                   bool* same, FrameChain* chain, std::size_t* passed);

// What a capture by the calling thread (holding the GIL, up to `stop_frame`, kMaxStackDepth
// frames) would read now, against the capture that recorded `chain`. A frame popped and
// another pushed at its address with the same code, instruction and caller reads the same.
enum class FramesNow {
    kChanged,         // read them
    kSame,            // the same stack
    kInnermostMoved,  // the same but for the innermost frame's instruction (see check_frames)
};
// On kInnermostMoved, *instruction is the innermost frame's instruction index now, and
// `chain` is updated to it (the caller makes that stack its cached one).
FramesNow check_frames(FrameChain& chain, const void* stop_frame, std::uint32_t* instruction);

// The same for the calling thread when it does not hold the GIL (inside a C call that released
// it): its frames, read from its own thread state, cannot change until it takes the GIL back.
// 0 for a thread that never ran Python.
std::size_t capture_stack_without_gil(engine::Frame* out, std::size_t capacity,
                                      const void* stop_frame);

// From now on, the stacks read above leave out the frames of the import system's own code
// (importlib._bootstrap and importlib._bootstrap_external, frozen): an allocation made while
// a module is imported is charged to the importing line, under the lines that imported it, as
// tracebacks show an import. Imports stack five such frames per module imported: after
// `import sklearn`, 54 of a site's 72 frames on average, and a third of the frame tree's
// nodes. Needs the GIL; each module is looked up until found.
//
// With `fold_imports`, a stack read inside an import also keeps, of the frames that ran inside
// each module being imported, only the module's own line (the frame of its body) and, in the
// innermost module, the allocating frame when it is that module's own code (the same file):
// [the allocating line, the module's line, ..., the module line that imported it, ..., the
// program's lines]. What other modules' helpers do while a module is imported (docstrings
// parsed, signatures, namedtuples, decorators, dataclasses) is charged to the module's line that
// ran them: stacks that otherwise differ only in those helpers' call chains and lines are one.
// scikit-learn's bench job (it imports pandas, SciPy and scikit-learn): 421,000 allocation
// sites unfolded, 295,000 keeping every innermost frame, 90,000 now; the frame tree 9.1 ->
// 2.6 MB. A module's own lines keep their totals; a helper's import-time bytes go to the module
// lines that ran it.
void hide_import_system_frames(bool fold_imports);

// Work run by a thread pool (concurrent.futures.ThreadPoolExecutor) is charged under the stack
// that submitted it, as a traceback across the hand-off would read: a worker's stack read above
// ends, after the frame of `_WorkItem.run`, with a link (engine::Frame::is_link) whose `code` is
// the work item's allocation address; the tracker resolves it to the work item's site, made by
// submit() in the submitting thread. Stacks of the pool's own loop and the thread's bootstrap
// frames are left out. The code of `_WorkItem.run` is learnt from the first stack that shows it:
// call this with each code object the first time a stack holds it (a new frame tree node).
void note_new_code(PyObject* code);

// The calling thread's innermost Python frame, as an opaque handle: it stays valid, and keeps
// its address, while that function runs.
const void* current_frame();

// Evaluates `code` in `globals` (as exec does) as python runs a script: its frame is the
// thread's first, with no frame of the caller's below it (inspect.stack(), warnings'
// stacklevel, faulthandler and pdb see the program's frames alone). New reference, or nullptr
// with the exception set. Needs the GIL.
PyObject* eval_as_first_frame(PyObject* code, PyObject* globals);

// In eval_as_first_frame, before the script's first frame is set up or after it is gone (no
// frame is current): the stack of eval_as_first_frame's caller, read as capture_stack reads
// the current one (the interpreter's own allocations to run the script, its module's function
// object, are charged to it, as exec's are). 0 in any other case.
std::size_t capture_first_frame_caller(engine::Frame* out, std::size_t capacity,
                                       const void* stop_frame);

// Whether `code` is running in the calling thread (any of its frames, not only the innermost).
bool thread_runs_code(const PyObject* code);

// "name in function (file:line)" for a local variable (or cell) of a running Python frame, in
// any thread, that holds `value`; nullptr if none does. Reads frames in place: no frame object
// or locals dict is created.
PyObject* local_variable_holding(PyObject* value);

// Adds `levels` to the calling thread's budget of Python recursion (negative: takes them back),
// which sys.getrecursionlimit() does not show: memslim's own frames under the program's, and
// a census callback's above them, are not the program's to pay for. Needs the GIL.
void credit_recursion(int levels);
// The calling thread's recursion depth, as the interpreter counts it against the limit.
int recursion_depth();

// Calls `visit` on every object held by a local variable (or cell) of a running Python frame,
// in any thread. Value-stack slots are not visited: while a frame runs, the stack top is not
// recorded and slots above it may be stale. Needs the GIL.
void visit_frame_locals(int (*visit)(PyObject*, void*), void* arg);

// The line an instruction index of `code` belongs to (PyCode_Addr2Line), or the code's first
// line when the index is out of range.
int line_of(PyCodeObject* code, std::uint32_t instruction);

// Where in the source an instruction index of `code` is (PyCode_Addr2Location): the expression
// it evaluates, columns as UTF-8 byte offsets; columns are -1 where the code has no position.
struct SourceSpan {
    int line, column, end_line, end_column;
};
SourceSpan span_of(PyCodeObject* code, std::uint32_t instruction);

// Whether `name` (a module's __name__, borrowed; may be nullptr) is memslim or memslim.*: the
// test for memslim's own frames (their globals) and objects (their type's __module__). Runs no
// Python code.
bool is_memslim_module(PyObject* name);

}  // namespace memslim::cpython
