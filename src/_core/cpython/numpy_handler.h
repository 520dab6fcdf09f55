// numpy_handler.h — NumPy array buffers, recorded through NumPy's data-memory handler (NEP 49).
//
// NumPy (>= 1.22) allocates every array's data buffer through a "handler": a PyDataMem_Handler
// struct in a "mem_handler" capsule, held by a context variable (PyDataMem_SetHandler) whose
// default is NumPy's own PyDataMem_DefaultHandler. These buffers never pass through PyMem, so
// PyMem's hooks do not see them: an 80 MB np.ones() was 80 bytes of array object.
//
// Every new thread starts in a fresh context, on the default handler, so installing a handler
// in the tracking thread's context alone would miss every array a threading.Thread makes.
// memslim therefore wraps the default handler in place: its allocator's functions are swapped
// for wrappers that call the saved originals and record the block (Domain::kNumpy) at the
// caller's Python line; every context on the default handler, in every thread, goes through
// them. A context whose handler is not the default (a library installed its own) gets a
// wrapping handler through PyDataMem_SetHandler, in the tracking thread. Both are undone when
// tracking stops; arrays made while tracking and freed later then go straight to the
// originals (the wrappers only ever forward to them). Wrapping happens at the handler level,
// above NumPy's small-buffer cache: each array's logical allocation is recorded, cache hits
// included, and the inner calls run with the hooks off, so a byte is never counted twice.
//
// memslim is not built against NumPy: the handler's layout (version 1) is declared here, and
// the C-API functions are read from the module's _ARRAY_API table at their fixed indices,
// after checking the feature version.
#pragma once

#include <Python.h>

#include <string>

namespace memslim::cpython {

// Wraps NumPy's handlers if numpy's core module is already imported (never imports it) and
// they are not wrapped yet. Returns a one-line reason when NumPy is there but cannot be wrapped
// (too old, an unknown handler version), else an empty string. Needs the GIL.
std::string install_numpy_handler();

// Undoes install_numpy_handler (the wrappers stay in memory: arrays made while they were
// installed may still point at them). Needs the GIL.
void uninstall_numpy_handler();

// Whether the handlers are wrapped now.
bool numpy_handler_installed();

}  // namespace memslim::cpython
