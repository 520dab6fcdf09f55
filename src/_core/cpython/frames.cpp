// frames.cpp — per-version layout of the interpreter's frames (see frames.h).
#include "cpython/frames.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "cpython/object_layout.h"

namespace memslim::cpython {

namespace {

// One instruction code unit (_Py_CODEUNIT): 16 bits in 3.11-3.13; 3.13 no longer exports the
// type.
using CodeUnit = std::uint16_t;

[[maybe_unused]] constexpr char kFrameOwnedByCStack = 3;  // FRAME_OWNED_BY_CSTACK, 3.12+

// Mirrors of _PyInterpreterFrame (Include/internal/pycore_frame.h): only the leading fields
// this file reads, in their declared order.
#if PY_VERSION_HEX >= 0x030D0000
struct InterpreterFrame {
    PyObject* f_executable;  // code object, or None for a C-stack shim
    InterpreterFrame* previous;
    PyObject* f_funcobj;
    PyObject* f_globals;
    PyObject* f_builtins;
    PyObject* f_locals;
    PyObject* frame_obj;
    const CodeUnit* instr_ptr;  // the instruction executing now
    int stacktop;
    std::uint16_t return_offset;
    char owner;
    PyObject* localsplus[1];
};
PyObject* code_of(const InterpreterFrame* f) {
    return f->f_executable;
}
const CodeUnit* instruction_of(const InterpreterFrame* f) {
    return f->instr_ptr;
}
InterpreterFrame* top_frame(PyThreadState* tstate) {
    return reinterpret_cast<InterpreterFrame*>(tstate->current_frame);
}
#elif PY_VERSION_HEX >= 0x030C0000
struct InterpreterFrame {
    PyCodeObject* f_code;
    InterpreterFrame* previous;
    PyObject* f_funcobj;
    PyObject* f_globals;
    PyObject* f_builtins;
    PyObject* f_locals;
    PyObject* frame_obj;
    const CodeUnit* prev_instr;
    int stacktop;
    std::uint16_t return_offset;
    char owner;
    PyObject* localsplus[1];
};
PyObject* code_of(const InterpreterFrame* f) {
    return reinterpret_cast<PyObject*>(f->f_code);
}
const CodeUnit* instruction_of(const InterpreterFrame* f) {
    return f->prev_instr;
}
InterpreterFrame* top_frame(PyThreadState* tstate) {
    return tstate->cframe ? reinterpret_cast<InterpreterFrame*>(tstate->cframe->current_frame)
                          : nullptr;
}
#else
struct InterpreterFrame {
    PyObject* f_func;
    PyObject* f_globals;
    PyObject* f_builtins;
    PyObject* f_locals;
    PyCodeObject* f_code;
    PyObject* frame_obj;
    InterpreterFrame* previous;
    const CodeUnit* prev_instr;
    int stacktop;
    bool is_entry;
    char owner;
    PyObject* localsplus[1];
};
PyObject* code_of(const InterpreterFrame* f) {
    return reinterpret_cast<PyObject*>(f->f_code);
}
const CodeUnit* instruction_of(const InterpreterFrame* f) {
    return f->prev_instr;
}
InterpreterFrame* top_frame(PyThreadState* tstate) {
    return tstate->cframe ? reinterpret_cast<InterpreterFrame*>(tstate->cframe->current_frame)
                          : nullptr;
}
#endif

// A frame that runs no function of the program: a shim the interpreter pushes for a call from C
// (FRAME_OWNED_BY_CSTACK, 3.12+), or on 3.13 the trampoline under a class's Python __init__
// (CALL_ALLOC_AND_ENTER_INIT's _Py_InitCleanup, "__init__" in file "__init__"): its f_funcobj is
// None and its f_globals is never written (_PyFrame_PushTrampolineUnchecked), so it holds
// whatever frame used that memory before, an import's frame often. Its fields are in the
// frame's first 64 bytes, read anyway.
bool is_shim(const InterpreterFrame* f) {
#if PY_VERSION_HEX >= 0x030D0000
    return f->owner == kFrameOwnedByCStack || f->f_funcobj == Py_None;
#elif PY_VERSION_HEX >= 0x030C0000
    return f->owner == kFrameOwnedByCStack;
#else
    (void)f;
    return false;
#endif
}

// The globals of the import system's frozen modules (importlib._bootstrap and
// importlib._bootstrap_external, as _frozen_importlib and _frozen_importlib_external), whose
// frames stacks leave out (hide_import_system_frames). Module dicts that live as long as the
// interpreter; a reference is kept all the same.
PyObject* g_import_globals[2] = {nullptr, nullptr};
// Whether stacks read inside an import are folded (fold_import_segment): set with the globals.
bool g_fold_imports = false;

// The code of concurrent.futures.thread._WorkItem.run, once a stack has shown it (see
// note_new_code): a frame running it ends a worker's stack with a link to the work item.
std::atomic<PyObject*> g_work_item_run{nullptr};

// Whether `f` runs the import system's own code. Its globals pointer lies in the frame's first
// 64 bytes, with the fields read anyway: no cache miss of its own.
bool runs_import_system(const InterpreterFrame* f) {
    return f->f_globals == g_import_globals[0] || f->f_globals == g_import_globals[1];
}

// Whether two code objects come from one file. A module's code objects share one filename
// object (compiled together, or loaded from one .pyc); the characters are compared otherwise.
// Reads the strings' fields only: no allocation, no Python code.
bool same_file(const PyCodeObject* a, const PyCodeObject* b) {
    PyObject* x = a->co_filename;
    PyObject* y = b->co_filename;
    if (x == y) return true;
    if (x == nullptr || y == nullptr || !PyUnicode_CheckExact(x) || !PyUnicode_CheckExact(y)) {
        return false;
    }
    const Py_ssize_t length = PyUnicode_GET_LENGTH(x);
    return length == PyUnicode_GET_LENGTH(y) && PyUnicode_KIND(x) == PyUnicode_KIND(y) &&
           std::memcmp(PyUnicode_DATA(x), PyUnicode_DATA(y),
                       static_cast<std::size_t>(length) * PyUnicode_KIND(x)) == 0;
}

// A stack read inside an import is folded at each import: of the frames that ran inside the
// module being imported (out[begin, depth)), only the module's own frame is kept (code without
// CO_OPTIMIZED: a module or class body, exec'd source; the outermost such one, which is the
// module's where an import hook's frame lies outside it). In the innermost segment the
// allocating frame is kept as well when it is the module's own code (same file): a helper of
// another module run at import time is charged to the module's line that ran it. Returns the
// new depth.
std::size_t fold_import_segment(engine::Frame* out, std::size_t begin, std::size_t depth) {
    if (depth - begin <= 1) return depth;  // nothing to fold
    std::size_t module = depth - 1;
    bool body = false;  // a module body was found (not the segment's outermost frame by default)
    for (std::size_t i = depth; i-- > begin;) {
        const auto* code = reinterpret_cast<const PyCodeObject*>(out[i].code);
        if ((code->co_flags & CO_OPTIMIZED) == 0) {
            module = i;
            body = true;
            break;
        }
    }
    // The allocating frame is dropped only for a helper of another file run by a module body:
    // where the segment has no body (an import hook's or a lazy module's own frames, called by
    // the import system), it stays, as the outermost frame is no module's line.
    std::size_t kept = begin;
    if (begin == 0 && module != begin &&
        (!body || same_file(reinterpret_cast<const PyCodeObject*>(out[begin].code),
                            reinterpret_cast<const PyCodeObject*>(out[module].code)))) {
        ++kept;  // the allocating frame stays where it is
    }
    out[kept++] = out[module];
    return kept;
}

// Frames of memslim's own Python code: their locals are the tool's, not the program's. (Told
// by the frame's module, as a frame's locals are read; the stack index and the report tell
// memslim's files by memslim._paths.PACKAGE_DIR.)
bool is_memslim_frame(const InterpreterFrame* f) {
    if (f->f_globals == nullptr || !PyDict_CheckExact(f->f_globals)) return false;
    return is_memslim_module(PyDict_GetItemString(f->f_globals, "__name__"));
}

}  // namespace

void hide_import_system_frames(bool fold_imports) {
    g_fold_imports = fold_imports;
    PyObject* modules = PyImport_GetModuleDict();  // borrowed: sys.modules
    const char* names[2] = {"_frozen_importlib", "_frozen_importlib_external"};
    for (int i = 0; i < 2; ++i) {
        if (g_import_globals[i] != nullptr) continue;  // found by an earlier recording
        PyObject* module = PyDict_GetItemString(modules, names[i]);  // borrowed, or nullptr
        if (module == nullptr || !PyModule_Check(module)) continue;
        PyObject* globals = PyModule_GetDict(module);  // borrowed
        Py_INCREF(globals);
        g_import_globals[i] = globals;
    }
}

void note_new_code(PyObject* code) {
    if (g_work_item_run.load(std::memory_order_relaxed) != nullptr || !PyCode_Check(code)) return;
    const auto* c = reinterpret_cast<PyCodeObject*>(code);
    PyObject* file = c->co_filename;
    if (c->co_qualname == nullptr || !PyUnicode_Check(c->co_qualname) ||
        PyUnicode_CompareWithASCIIString(c->co_qualname, "_WorkItem.run") != 0 ||
        file == nullptr || !PyUnicode_Check(file)) {
        return;
    }
    // concurrent/futures/thread.py, however the path begins (a virtualenv, a zip). Read in
    // place (an ASCII path: converting another would allocate, inside the allocation hook).
    constexpr std::string_view kTail = "concurrent/futures/thread.py";
    if (!PyUnicode_IS_COMPACT_ASCII(file)) return;
    const std::string_view path(static_cast<const char*>(PyUnicode_DATA(file)),
                                static_cast<std::size_t>(PyUnicode_GET_LENGTH(file)));
    if (path.size() >= kTail.size() && path.substr(path.size() - kTail.size()) == kTail) {
        Py_INCREF(code);  // kept for the interpreter's life: a module's function
        g_work_item_run.store(code, std::memory_order_relaxed);
    }
}

const void* current_frame() {
    PyThreadState* tstate = _PyThreadState_UncheckedGet();
    return tstate == nullptr ? nullptr : top_frame(tstate);
}

namespace {
// The frame current when eval_as_first_frame was called, in the thread running it (nullptr:
// none runs).
thread_local InterpreterFrame* t_first_frame_caller = nullptr;

void set_top_frame(PyThreadState* tstate, InterpreterFrame* frame) {
#if PY_VERSION_HEX >= 0x030D0000
    tstate->current_frame = reinterpret_cast<decltype(tstate->current_frame)>(frame);
#else
    tstate->cframe->current_frame =
        reinterpret_cast<decltype(tstate->cframe->current_frame)>(frame);
#endif
}
}  // namespace

std::size_t capture_first_frame_caller(engine::Frame* out, std::size_t capacity,
                                       const void* stop_frame) {
    PyThreadState* tstate = _PyThreadState_UncheckedGet();
    if (t_first_frame_caller == nullptr || tstate == nullptr || top_frame(tstate) != nullptr) {
        return 0;
    }
    set_top_frame(tstate, t_first_frame_caller);
    const std::size_t depth = capture_stack(out, capacity, stop_frame);
    set_top_frame(tstate, nullptr);
    return depth;
}

PyObject* eval_as_first_frame(PyObject* code, PyObject* globals) {
    PyThreadState* tstate = PyThreadState_Get();
    InterpreterFrame* const caller_before = t_first_frame_caller;
    t_first_frame_caller = top_frame(tstate);
    // The frame the evaluation links its first frame to, cleared for it and put back after
    // (the evaluation sets its own frames on a C frame of its own, or restores this one).
    set_top_frame(tstate, nullptr);
    PyObject* result = PyEval_EvalCode(code, globals, globals);
    set_top_frame(tstate, t_first_frame_caller);
    t_first_frame_caller = caller_before;
    return result;
}

bool thread_runs_code(const PyObject* code) {
    PyThreadState* tstate = _PyThreadState_UncheckedGet();
    if (tstate == nullptr || code == nullptr) return false;
    for (const InterpreterFrame* f = top_frame(tstate); f != nullptr; f = f->previous) {
        if (is_shim(f)) continue;
        if (code_of(f) == code) return true;
    }
    return false;
}

namespace {

// Appends `f` to `chain` (a frame the walk passed), while there is room: a walk that passed
// more leaves the chain empty (capture_stack_of).
void note_frame(FrameChain* chain, const InterpreterFrame* f, const PyObject* work_item_run) {
    if (chain == nullptr || chain->count >= FrameChain::kCapacity) return;
    const PyObject* code = code_of(f);
    chain->entries[chain->count++] = FrameChain::Entry{
        f,
        code,
        instruction_of(f),
        f->f_globals,
        code == work_item_run && code != nullptr ? f->localsplus[0] : nullptr,
        is_shim(f),
    };
}

// The index of the instruction `f` runs in its code object, as stacks record it.
std::uint32_t instruction_index(const InterpreterFrame* f) {
    const auto* first = reinterpret_cast<const CodeUnit*>(
        reinterpret_cast<PyCodeObject*>(code_of(f))->co_code_adaptive);
    const std::ptrdiff_t index = instruction_of(f) - first;
    // A frame that is being set up may point before its first instruction.
    return static_cast<std::uint32_t>(index < 0 ? 0 : index);
}

// Reads the frames into `out`; with kCompare, also compares each with `expected` at the same
// depth as it goes and sets *same when the stack is `expected` exactly.
template <bool kCompare>
std::size_t capture_stack_of(PyThreadState* tstate, engine::Frame* out, std::size_t capacity,
                             const void* stop_frame, std::span<const engine::Frame> expected = {},
                             bool* same = nullptr, FrameChain* chain = nullptr,
                             std::size_t* passed = nullptr) {
    if constexpr (kCompare) *same = false;
    if (chain != nullptr) chain->count = 0;
    std::size_t frames_passed = 0;
    bool innermost_is_first = false;  // out[0] is the first frame passed
    if (tstate == nullptr) return 0;
    std::size_t depth = 0;
    std::size_t segment = 0;  // out[segment, depth): frames read since the last import's
    bool differs = false;
    bool folded = false;
    bool linked = false;
    const PyObject* work_item_run = g_work_item_run.load(std::memory_order_relaxed);
    const InterpreterFrame* f = top_frame(tstate);
    for (; f != nullptr && f != stop_frame && depth < capacity; f = f->previous) {
        note_frame(chain, f, work_item_run);
        ++frames_passed;
        // Shim frames carry a placeholder code object ("<interpreter trampoline>", "__init__"):
        // not the user's; and a 3.13 trampoline's globals are stale (is_shim).
        if (is_shim(f)) continue;
        if (runs_import_system(f)) {
            if (g_fold_imports && depth > segment) {
                const std::size_t kept = fold_import_segment(out, segment, depth);
                folded |= kept != depth;
                depth = kept;
            }
            segment = depth;
            continue;
        }
        PyObject* code = code_of(f);
#if PY_VERSION_HEX >= 0x030D0000
        // 3.13's f_executable may be something else than a code object.
        if (code == nullptr || !PyCode_Check(code)) continue;
#else
        // 3.11 and 3.12 frames always hold a code object: not reading its type saves a cache
        // miss per frame per allocation (stacks in imports are 50-100 frames deep).
        if (code == nullptr) continue;
#endif
        const engine::Frame frame{reinterpret_cast<std::uintptr_t>(code), instruction_index(f)};
        if constexpr (kCompare) {
            // No early exit: a differing stack is read whole all the same (it will be interned).
            differs |= depth >= expected.size() || !(frame == expected[depth]);
        }
        innermost_is_first |= depth == 0 && frames_passed == 1;
        out[depth++] = frame;
        if (code == work_item_run && depth < capacity && f->localsplus[0] != nullptr) {
            // A thread pool's worker runs work that a stack submitted: its frames under this
            // one (the pool's loop, the thread's bootstrap) give way to that stack, named by
            // the work item's allocation (`self`, made by submit()).
            const engine::Frame link{allocation_address(f->localsplus[0]),
                                     engine::Frame::kLinkInstruction};
            if constexpr (kCompare) {
                differs |= depth >= expected.size() || !(link == expected[depth]);
            }
            out[depth++] = link;
            linked = true;
            break;
        }
    }
    if (passed != nullptr) *passed = frames_passed;
    if (chain != nullptr) {
        if (frames_passed > FrameChain::kCapacity) {
            chain->count = 0;
        } else {
            chain->tstate = tstate;
            chain->stop_frame = stop_frame;
            chain->work_item_run = work_item_run;
            // Ended at the bottom or at the stop frame: the last frame's caller is checked
            // too (a frame pushed under it would be read). Ended at the capacity or at a
            // work item's link: what lies under is never read.
            chain->check_tail = !linked && (f == nullptr || f == stop_frame);
            chain->tail = f;
            chain->innermost_moves = innermost_is_first && !folded && !linked;
        }
    }
    if constexpr (kCompare) {
        if (folded) {  // compared as read, before frames were folded away: again, as kept
            differs = depth != expected.size() ||
                      !std::equal(out, out + depth, expected.begin());
        }
        *same = !differs && depth == expected.size();
    }
    return depth;
}

}  // namespace

std::size_t capture_stack(engine::Frame* out, std::size_t capacity, const void* stop_frame) {
    return capture_stack_of<false>(_PyThreadState_UncheckedGet(), out, capacity, stop_frame);
}

std::size_t capture_stack_compared(engine::Frame* out, std::size_t capacity,
                                   const void* stop_frame, std::span<const engine::Frame> expected,
                                   bool* same, FrameChain* chain, std::size_t* passed) {
    return capture_stack_of<true>(_PyThreadState_UncheckedGet(), out, capacity, stop_frame,
                                  expected, same, chain, passed);
}

FramesNow check_frames(FrameChain& chain, const void* stop_frame, std::uint32_t* instruction) {
    const std::size_t count = chain.count;
    if (count == 0) return FramesNow::kChanged;
    PyThreadState* tstate = _PyThreadState_UncheckedGet();
    if (tstate == nullptr || tstate != chain.tstate || stop_frame != chain.stop_frame ||
        g_work_item_run.load(std::memory_order_relaxed) != chain.work_item_run) {
        return FramesNow::kChanged;
    }
    const InterpreterFrame* top = top_frame(tstate);
    FrameChain::Entry& innermost = chain.entries[0];
    if (top != innermost.frame || code_of(top) != innermost.code) return FramesNow::kChanged;
    const CodeUnit* now = instruction_of(top);
    const bool moved = static_cast<const void*>(now) != innermost.instruction;
    if (moved && !chain.innermost_moves) return FramesNow::kChanged;
    // A recorded frame is read only once the frame above it has been seen to call it: it may
    // be gone (a popped chunk of the frame stack, a freed generator). Its address comes from
    // the record, not from that load, so the processor reads it ahead of the comparison, where
    // a walk waits for each `previous` before it can read the next frame.
    for (std::size_t i = 0; i < count; ++i) {
        const FrameChain::Entry& e = chain.entries[i];
        const auto* f = static_cast<const InterpreterFrame*>(e.frame);
        if (code_of(f) != e.code ||
            (i > 0 && static_cast<const void*>(instruction_of(f)) != e.instruction) ||
            static_cast<const void*>(f->f_globals) != e.globals || is_shim(f) != e.shim ||
            (e.code == chain.work_item_run && e.code != nullptr &&
             static_cast<const void*>(f->localsplus[0]) != e.self)) {
            return FramesNow::kChanged;
        }
        const bool last = i + 1 == count;
        if (!last || chain.check_tail) {
            const void* below = last ? chain.tail : chain.entries[i + 1].frame;
            if (static_cast<const void*>(f->previous) != below) return FramesNow::kChanged;
        }
    }
    if (!moved) return FramesNow::kSame;
    *instruction = instruction_index(top);
    innermost.instruction = now;
    return FramesNow::kInnermostMoved;
}

std::size_t capture_stack_without_gil(engine::Frame* out, std::size_t capacity,
                                      const void* stop_frame) {
    return capture_stack_of<false>(PyGILState_GetThisThreadState(), out, capacity, stop_frame);
}

namespace {

// Calls `each(frame, code)` for every running Python frame of the program in every thread,
// innermost first per thread (C-stack shims and memslim's own frames skipped), until it
// returns a non-null result, which is returned.
template <class Each>
PyObject* for_each_program_frame(Each each) {
    PyInterpreterState* interp = PyInterpreterState_Get();
    for (PyThreadState* t = PyInterpreterState_ThreadHead(interp); t != nullptr;
         t = PyThreadState_Next(t)) {
        for (const InterpreterFrame* f = top_frame(t); f != nullptr; f = f->previous) {
            if (is_shim(f)) continue;
            PyObject* code = code_of(f);
            if (code == nullptr || !PyCode_Check(code) || is_memslim_frame(f)) continue;
            if (PyObject* found = each(f, reinterpret_cast<PyCodeObject*>(code))) return found;
        }
    }
    return nullptr;
}

}  // namespace

int recursion_depth() {
    const PyThreadState* tstate = PyThreadState_Get();
#if PY_VERSION_HEX >= 0x030C0000
    return tstate->py_recursion_limit - tstate->py_recursion_remaining;
#else
    return tstate->recursion_limit - tstate->recursion_remaining;
#endif
}

void credit_recursion(int levels) {
    PyThreadState* tstate = PyThreadState_Get();
#if PY_VERSION_HEX >= 0x030C0000
    tstate->py_recursion_remaining += levels;
#else
    tstate->recursion_remaining += levels;
#endif
}

PyObject* local_variable_holding(PyObject* value) {
    return for_each_program_frame([value](const InterpreterFrame* f,
                                          PyCodeObject* code) -> PyObject* {
        // Locals (and cells), then the value stack: a list being built by a comprehension
        // lives there until it is bound to a name. `stacktop` is stale while a frame runs,
        // so the whole stack area is scanned; its slots are compared, never dereferenced.
        const int locals = code->co_nlocalsplus;
        const int used = locals + code->co_stacksize;
        for (int i = 0; i < used; ++i) {
            PyObject* slot = f->localsplus[i];
            if (slot == nullptr) continue;
            if (slot != value && !(i < locals && PyCell_Check(slot) && PyCell_GET(slot) == value)) {
                continue;
            }
            const int line = line_of(
                code,
                static_cast<std::uint32_t>(
                    instruction_of(f) - reinterpret_cast<const CodeUnit*>(code->co_code_adaptive)));
            if (i >= locals) {
                return PyUnicode_FromFormat("a temporary in %U (%U:%d)", code->co_qualname,
                                            code->co_filename, line);
            }
            PyObject* name = PyTuple_GET_ITEM(code->co_localsplusnames, i);
            return PyUnicode_FromFormat("%U in %U (%U:%d)", name, code->co_qualname,
                                        code->co_filename, line);
        }
        return nullptr;
    });
}

void visit_frame_locals(int (*visit)(PyObject*, void*), void* arg) {
    for_each_program_frame([&](const InterpreterFrame* f, PyCodeObject* code) -> PyObject* {
        for (int i = 0; i < code->co_nlocalsplus; ++i) {
            if (f->localsplus[i] != nullptr) visit(f->localsplus[i], arg);
        }
        return nullptr;
    });
}

namespace {

// The byte offset of an instruction index in `code`, or -1 past its end (a code object's
// ob_size is its number of code units, 3.11-3.13).
int offset_of(PyCodeObject* code, std::uint32_t instruction) {
    const Py_ssize_t code_bytes = Py_SIZE(code) * static_cast<Py_ssize_t>(sizeof(CodeUnit));
    const Py_ssize_t offset =
        static_cast<Py_ssize_t>(instruction) * static_cast<Py_ssize_t>(sizeof(CodeUnit));
    return offset < code_bytes ? static_cast<int>(offset) : -1;
}

}  // namespace

int line_of(PyCodeObject* code, std::uint32_t instruction) {
    const int offset = offset_of(code, instruction);
    const int line = offset < 0 ? -1 : PyCode_Addr2Line(code, offset);
    return line < 0 ? code->co_firstlineno : line;
}

SourceSpan span_of(PyCodeObject* code, std::uint32_t instruction) {
    const int line = line_of(code, instruction);
    SourceSpan span{line, -1, line, -1};
    const int offset = offset_of(code, instruction);
    if (offset < 0 || PyCode_Addr2Location(code, offset, &span.line, &span.column, &span.end_line,
                                           &span.end_column) == 0) {
        return {line, -1, line, -1};
    }
    return span;
}

bool is_memslim_module(PyObject* name) {
    if (name == nullptr || !PyUnicode_Check(name)) return false;
    Py_ssize_t size = 0;
    const char* text = PyUnicode_AsUTF8AndSize(name, &size);
    if (text == nullptr) {
        PyErr_Clear();
        return false;
    }
    const std::string_view module(text, static_cast<std::size_t>(size));
    return module == "memslim" || module.starts_with("memslim.");
}

}  // namespace memslim::cpython
