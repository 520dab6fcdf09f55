// finalizing.h — the program's other threads end as they do when the interpreter exits.
#pragma once

#include <Python.h>

#ifdef __cplusplus
extern "C" {
#endif

// With the GIL held: the number of the main interpreter's thread states other than the
// caller's. When there are any, marks the runtime as finalizing by the calling thread, as
// Py_FinalizeEx does once the program's atexit handlers have run: from then on every other
// thread that takes the GIL exits there (PyThread_exit_thread) without running more of its
// code. The mark is never taken back; the interpreter's own finalization sets it again.
//
// In C, not C++: the setter is an inline function of CPython's internal headers
// (Include/internal/pycore_runtime.h), whose atomics (pycore_atomic.h in 3.11 and 3.12)
// compile only as C.
int memslim_finalize_other_threads(void);

#ifdef __cplusplus
}
#endif
