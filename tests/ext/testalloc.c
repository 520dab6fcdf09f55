/* testalloc.c — a test-only extension (never shipped) that allocates exact sizes in each
 * PyMem domain, from the calling thread or from native threads without the GIL, so tests can
 * assert exact byte counts. Blocks are kept in a fixed table and freed on request. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>

#define MAX_BLOCKS 100000

static void *blocks[MAX_BLOCKS];
static int domains[MAX_BLOCKS];
static Py_ssize_t nblocks = 0;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static int remember(void *p, int domain) {
    pthread_mutex_lock(&table_lock);
    int ok = nblocks < MAX_BLOCKS;
    if (ok) {
        blocks[nblocks] = p;
        domains[nblocks] = domain;
        nblocks++;
    }
    pthread_mutex_unlock(&table_lock);
    return ok;
}

/* alloc(domain, size, count=1): domain 0 = RAW, 1 = MEM, 2 = OBJ. Returns None. */
static PyObject *t_alloc(PyObject *self, PyObject *args) {
    int domain;
    Py_ssize_t size, count = 1;
    if (!PyArg_ParseTuple(args, "in|n", &domain, &size, &count)) return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        void *p = domain == 0 ? PyMem_RawMalloc(size) : domain == 1 ? PyMem_Malloc(size) : PyObject_Malloc(size);
        if (p == NULL) return PyErr_NoMemory();
        if (!remember(p, domain)) {
            PyErr_SetString(PyExc_RuntimeError, "too many blocks");
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

struct thread_job { Py_ssize_t count, size; };

static void *raw_worker(void *arg) {
    struct thread_job *job = arg;
    for (Py_ssize_t i = 0; i < job->count; i++) {
        void *p = PyMem_RawMalloc(job->size);  /* no GIL here: allowed for RAW only */
        if (p != NULL) remember(p, 0);
    }
    return NULL;
}

/* alloc_raw_in_threads(threads, count, size): native threads that never hold the GIL. */
static PyObject *t_alloc_raw_in_threads(PyObject *self, PyObject *args) {
    int threads;
    Py_ssize_t count, size;
    if (!PyArg_ParseTuple(args, "inn", &threads, &count, &size)) return NULL;
    pthread_t ids[64];
    struct thread_job job = {count, size};
    if (threads > 64) threads = 64;
    Py_BEGIN_ALLOW_THREADS
    for (int i = 0; i < threads; i++) pthread_create(&ids[i], NULL, raw_worker, &job);
    for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* free_all(): frees every block, each through its own domain. */
static PyObject *t_free_all(PyObject *self, PyObject *args) {
    pthread_mutex_lock(&table_lock);
    for (Py_ssize_t i = 0; i < nblocks; i++) {
        if (domains[i] == 0) PyMem_RawFree(blocks[i]);
        else if (domains[i] == 1) PyMem_Free(blocks[i]);
        else PyObject_Free(blocks[i]);
    }
    nblocks = 0;
    pthread_mutex_unlock(&table_lock);
    Py_RETURN_NONE;
}

/* realloc_last(size): reallocs the most recent block in its domain. */
static PyObject *t_realloc_last(PyObject *self, PyObject *args) {
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "n", &size)) return NULL;
    if (nblocks == 0) Py_RETURN_NONE;
    void **slot = &blocks[nblocks - 1];
    int domain = domains[nblocks - 1];
    void *p = domain == 0 ? PyMem_RawRealloc(*slot, size)
            : domain == 1 ? PyMem_Realloc(*slot, size) : PyObject_Realloc(*slot, size);
    if (p == NULL) return PyErr_NoMemory();
    *slot = p;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"alloc", t_alloc, METH_VARARGS, NULL},
    {"alloc_raw_in_threads", t_alloc_raw_in_threads, METH_VARARGS, NULL},
    {"free_all", t_free_all, METH_NOARGS, NULL},
    {"realloc_last", t_realloc_last, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_memslim_testalloc", NULL, -1, methods};

PyMODINIT_FUNC PyInit__memslim_testalloc(void) { return PyModule_Create(&module); }
