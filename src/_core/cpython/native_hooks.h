// native_hooks.h — the C allocator (malloc and family) hooked in every loaded shared object.
//
// Python's own hooks (PyMem_SetAllocator) see only PyMem's domains; C extensions allocate with
// malloc directly (parsers' buffers, pandas' hash tables, BLAS workspaces, sqlite's pages).
// memslim interposes the C allocator inside the running process, so `memslim.track()`, the
// pytest plugin and notebooks work as `memslim run` does: no LD_PRELOAD and no restart. Each
// loaded object's relocations (the GOT slots its calls to malloc, calloc, realloc, free,
// posix_memalign, aligned_alloc, memalign, valloc, pvalloc and reallocarray go through, and
// its references to dlopen) are pointed at wrappers that call the real functions and record
// the block (Domain::kNative). Objects loaded later (every import of an extension module
// dlopens one) are patched by the dlopen wrapper as soon as they are loaded. A native module's
// PyEval_SaveThread (Py_BEGIN_ALLOW_THREADS) is wrapped too: its thread's Python stack is
// interned while it still holds the GIL, so that blocks it allocates without the GIL are
// charged to the Python line that called it (adding a stack node needs the GIL). Skipped: the
// dynamic loader, the vDSO and memslim's own module (its calls must reach the real functions).
// Stopping puts every slot back.
//
// A block is recorded once, by the outermost hook: PyMem's RAW domain calls malloc, NumPy's
// handler calls malloc, pymalloc calls mmap, all from inside a hook (t_in_hook), and the
// wrappers then only forward. Allocators linked statically into an object (PyArrow's mimalloc
// or jemalloc) make no calls through a GOT and cannot be seen this way; the address space they
// reserve with mmap is summed apart (reserved_map_bytes), not counted as held.
//
// Linux x86-64 (ELF RELA relocations). Elsewhere install_native_hooks says it cannot.
#pragma once

#include <cstdint>
#include <string>

namespace memslim::cpython {

// Patches every loaded object; returns a one-line reason when native allocations cannot be
// traced here, else an empty string. Idempotent. Needs the GIL. Without `allocations`
// (--python-only) only dlopen and the GIL sections are hooked, for
// native_threads_without_gil: nothing is recorded, and native_hooks_installed() stays false.
std::string install_native_hooks(bool allocations = true);

// Puts every patched slot back (objects unloaded meanwhile are skipped). Needs the GIL.
void uninstall_native_hooks();

bool native_hooks_installed();

// Anonymous maps made while tracking that only reserve address space (PROT_NONE or
// MAP_NORESERVE): not counted as held, their bytes summed here (since install).
std::uint64_t reserved_map_bytes();

// How many threads are now in a native module's code without the GIL (between its
// Py_BEGIN_ALLOW_THREADS and Py_END_ALLOW_THREADS), the interpreter's and the standard
// library's modules left out: a fork now runs the fork handlers of the libraries they may be in,
// and OpenBLAS's shuts its thread pool down under a matrix product in flight, which then waits
// forever (numpy's `a @ a.T` in four threads of a pool). 0 without native hooks; counted with
// either set of them. The calling thread (which holds the GIL) is never counted.
int native_threads_without_gil();

}  // namespace memslim::cpython
