// finalizing.c — see finalizing.h.
#define Py_BUILD_CORE_MODULE 1
#include "finalizing.h"

#include "internal/pycore_runtime.h"

int memslim_finalize_other_threads(void) {
    PyThreadState* self = PyThreadState_Get();
    int others = 0;
    for (PyThreadState* t = PyInterpreterState_ThreadHead(PyInterpreterState_Main()); t != NULL;
         t = PyThreadState_Next(t)) {
        others += t != self;
    }
    if (others > 0) _PyRuntimeState_SetFinalizing(&_PyRuntime, self);
    return others;
}
