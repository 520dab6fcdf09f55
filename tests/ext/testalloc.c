/* testalloc.c — a test-only extension (never shipped) that allocates exact sizes in each
 * PyMem domain and with the C allocator's functions, from the calling thread (with or without
 * the GIL) or from native threads that never ran Python, so tests can assert exact byte
 * counts. Blocks are kept in fixed tables and freed on request. Compiled with
 * -DTESTALLOC_NAME=other to load a second copy (a library loaded after tracking started). */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifndef TESTALLOC_NAME
#define TESTALLOC_NAME _memslim_testalloc
#endif
#define STR_(x) #x
#define STR(x) STR_(x)
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

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

/* calloc(domain, nelem, elsize, count=1): the domain's calloc (0 RAW, 1 MEM, 2 OBJ). */
static PyObject *t_calloc(PyObject *self, PyObject *args) {
    int domain;
    Py_ssize_t nelem, elsize, count = 1;
    if (!PyArg_ParseTuple(args, "inn|n", &domain, &nelem, &elsize, &count)) return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        void *p = domain == 0   ? PyMem_RawCalloc(nelem, elsize)
                  : domain == 1 ? PyMem_Calloc(nelem, elsize)
                                : PyObject_Calloc(nelem, elsize);
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

/* realloc_last(size): reallocs the most recent block in its domain; MemoryError (the block
 * kept as it was) when the allocator fails. */
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

/* Native blocks: made by the C allocator, freed by free(). */
static void *native_blocks[MAX_BLOCKS];
static Py_ssize_t nnative = 0;

static void *native_alloc(int kind, Py_ssize_t size) {
    void *p = NULL;
    switch (kind) {
        case 0: p = malloc(size); break;
        case 1: p = calloc(size, 1); break;
        case 2: p = realloc(malloc(16), size); break; /* the 16-byte block is replaced */
        case 3: if (posix_memalign(&p, 64, size) != 0) p = NULL; break;
        case 4: p = aligned_alloc(64, (size + 63) / 64 * 64); break;
        case 5: p = memalign(64, size); break;
        case 6: p = valloc(size); break;
    }
    if (p != NULL) memset(p, 1, size);
    return p;
}

static int remember_native(void *p) {
    pthread_mutex_lock(&table_lock);
    int ok = nnative < MAX_BLOCKS;
    if (ok) native_blocks[nnative++] = p;
    pthread_mutex_unlock(&table_lock);
    return ok;
}

/* native(kind, size, count=1, release_gil=False): kind 0 malloc, 1 calloc, 2 realloc,
 * 3 posix_memalign, 4 aligned_alloc (size rounded up to 64), 5 memalign, 6 valloc. */
static PyObject *t_native(PyObject *self, PyObject *args) {
    int kind, release_gil = 0;
    Py_ssize_t size, count = 1, made = 0;
    if (!PyArg_ParseTuple(args, "in|np", &kind, &size, &count, &release_gil)) return NULL;
    PyThreadState *saved = release_gil ? PyEval_SaveThread() : NULL;
    for (; made < count; made++) {
        void *p = native_alloc(kind, size);
        if (p == NULL || !remember_native(p)) break;
    }
    if (saved != NULL) PyEval_RestoreThread(saved);
    if (made < count) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static void *native_worker(void *arg) {
    struct thread_job *job = arg;
    for (Py_ssize_t i = 0; i < job->count; i++) {
        void *p = malloc(job->size);
        if (p != NULL) remember_native(p);
    }
    return NULL;
}

/* native_in_thread(count, size): one thread that never runs Python mallocs `count` blocks. */
static PyObject *t_native_in_thread(PyObject *self, PyObject *args) {
    Py_ssize_t count, size;
    if (!PyArg_ParseTuple(args, "nn", &count, &size)) return NULL;
    struct thread_job job = {count, size};
    pthread_t id;
    Py_BEGIN_ALLOW_THREADS
    pthread_create(&id, NULL, native_worker, &job);
    pthread_join(id, NULL);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* native_free_all(): frees every native block. */
static PyObject *t_native_free_all(PyObject *self, PyObject *args) {
    pthread_mutex_lock(&table_lock);
    for (Py_ssize_t i = 0; i < nnative; i++) free(native_blocks[i]);
    nnative = 0;
    pthread_mutex_unlock(&table_lock);
    Py_RETURN_NONE;
}

/* native_free_first(count): frees the `count` oldest native blocks, keeps the others. */
static PyObject *t_native_free_first(PyObject *self, PyObject *args) {
    Py_ssize_t count;
    if (!PyArg_ParseTuple(args, "n", &count)) return NULL;
    pthread_mutex_lock(&table_lock);
    if (count > nnative) count = nnative;
    for (Py_ssize_t i = 0; i < count; i++) free(native_blocks[i]);
    memmove(native_blocks, native_blocks + count, (nnative - count) * sizeof(void *));
    nnative -= count;
    pthread_mutex_unlock(&table_lock);
    Py_RETURN_NONE;
}

/* One anonymous map at a time: map(pages) makes it (touched), unmap(first_page, pages) cuts
 * any part of it. */
static char *mapped = NULL;

/* map(pages, reserve=0): 0 a map written to; 1 MAP_NORESERVE, 2 PROT_NONE (reservations, as
 * allocators inside libraries make them: not written). */
static PyObject *t_map(PyObject *self, PyObject *args) {
    Py_ssize_t pages;
    int reserve = 0;
    if (!PyArg_ParseTuple(args, "n|i", &pages, &reserve)) return NULL;
    long page = sysconf(_SC_PAGESIZE);
    int prot = reserve == 2 ? PROT_NONE : PROT_READ | PROT_WRITE;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | (reserve == 1 ? MAP_NORESERVE : 0);
    void *p = mmap(NULL, pages * page, prot, flags, -1, 0);
    if (p == MAP_FAILED) return PyErr_NoMemory();
    if (reserve == 0) memset(p, 1, pages * page);
    mapped = p;
    Py_RETURN_NONE;
}

static PyObject *t_unmap(PyObject *self, PyObject *args) {
    Py_ssize_t first, pages;
    if (!PyArg_ParseTuple(args, "nn", &first, &pages)) return NULL;
    long page = sysconf(_SC_PAGESIZE);
    if (mapped == NULL || munmap(mapped + first * page, pages * page) != 0) {
        PyErr_SetString(PyExc_OSError, "munmap failed");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* call_without_gil(function): releases the GIL and takes it back with PyGILState_Ensure to
 * call `function` (as pandas 2's CSV parser calls its file's read()), returning its result. */
static PyObject *t_call_without_gil(PyObject *self, PyObject *function) {
    PyObject *result;
    Py_BEGIN_ALLOW_THREADS
    PyGILState_STATE state = PyGILState_Ensure();
    result = PyObject_CallNoArgs(function);
    PyGILState_Release(state);
    Py_END_ALLOW_THREADS
    return result;
}

static PyMethodDef methods[] = {
    {"call_without_gil", t_call_without_gil, METH_O, NULL},
    {"map", t_map, METH_VARARGS, NULL},
    {"unmap", t_unmap, METH_VARARGS, NULL},
    {"native", t_native, METH_VARARGS, NULL},
    {"native_in_thread", t_native_in_thread, METH_VARARGS, NULL},
    {"native_free_all", t_native_free_all, METH_NOARGS, NULL},
    {"native_free_first", t_native_free_first, METH_VARARGS, NULL},
    {"alloc", t_alloc, METH_VARARGS, NULL},
    {"alloc_raw_in_threads", t_alloc_raw_in_threads, METH_VARARGS, NULL},
    {"free_all", t_free_all, METH_NOARGS, NULL},
    {"realloc_last", t_realloc_last, METH_VARARGS, NULL},
    {"calloc", t_calloc, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, STR(TESTALLOC_NAME), NULL, -1, methods};

PyMODINIT_FUNC CAT(PyInit_, TESTALLOC_NAME)(void) { return PyModule_Create(&module); }
