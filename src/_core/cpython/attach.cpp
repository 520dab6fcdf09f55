// attach.cpp — the entry point `memslim attach PID` calls inside a running interpreter.
//
// memslim attach stops the target with gdb, loads this module into it (dlopen) and calls
// memslim_attach_request(path) on whichever thread gdb stopped. That thread may be anywhere:
// inside the interpreter, inside malloc, holding no GIL. So this function does nothing but
// copy the path into static memory (no allocation) and ask the interpreter, through
// Py_AddPendingCall (callable from any thread without the GIL), to run the request at its next
// safe point: the main thread, holding the GIL, between two bytecodes. There, the request's
// Python code (memslim._attach_agent) takes the census and writes the answer to a file the
// attaching side waits for. Nothing the request does may raise into the program: errors are
// written to that file, and the pending call returns 0 whatever happens.
#include <Python.h>

#include <cstring>

namespace {

constexpr std::size_t kPathCapacity = 4096;
char g_request[kPathCapacity];  // the request file's path, for the pending call
bool g_pending = false;

// The request's code, run in a namespace of its own (never the program's __main__): read the
// request, import memslim from the directory it names (taken off sys.path again), run it.
constexpr const char* kBootstrap = R"(
def _memslim_attach(path):
    import json, sys
    try:
        with open(path) as f:
            request = json.load(f)
    except Exception:
        return
    try:
        added = request["memslim_dir"] not in sys.path
        if added:
            sys.path.insert(0, request["memslim_dir"])
        try:
            from memslim import _attach_agent
        finally:
            if added and request["memslim_dir"] in sys.path:
                sys.path.remove(request["memslim_dir"])
        _attach_agent.serve(request)
    except BaseException as e:
        try:
            with open(request["output"] + ".error", "w") as f:
                f.write(f"{type(e).__name__}: {e}".replace("\n", " "))
        except Exception:
            pass
_memslim_attach(_memslim_path)
)";

int run_request(void*) {
    g_pending = false;
    PyObject* globals = PyDict_New();
    if (globals == nullptr) {
        PyErr_Clear();
        return 0;
    }
    PyObject* path = PyUnicode_FromString(g_request);
    if (path != nullptr && PyDict_SetItemString(globals, "_memslim_path", path) == 0 &&
        PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) == 0) {
        PyObject* result = PyRun_String(kBootstrap, Py_file_input, globals, globals);
        Py_XDECREF(result);
    }
    Py_XDECREF(path);
    Py_DECREF(globals);
    PyErr_Clear();  // whatever happened is the request's, never the program's
    return 0;
}

}  // namespace

// Called by gdb in a stopped process. 0: the request will run at the interpreter's next safe
// point; -1: the path is too long, a request is pending already, or the interpreter would not
// take the call.
extern "C" __attribute__((visibility("default"), used)) int memslim_attach_request(
    const char* path) {
    if (path == nullptr || g_pending) return -1;
    const std::size_t length = std::strlen(path);
    if (length == 0 || length >= kPathCapacity) return -1;
    std::memcpy(g_request, path, length + 1);
    g_pending = true;
    if (Py_AddPendingCall(run_request, nullptr) != 0) {
        g_pending = false;
        return -1;
    }
    return 0;
}
