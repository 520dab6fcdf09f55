// numpy_handler.cpp — NumPy's data-memory handler wrapped (see numpy_handler.h).
#include "cpython/numpy_handler.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "cpython/tracker.h"

namespace memslim::cpython {

namespace {

// NumPy's PyDataMemAllocator and PyDataMem_Handler (numpy/ndarraytypes.h), version 1.
struct NpyAllocator {
    void* ctx;
    void* (*malloc)(void* ctx, std::size_t size);
    void* (*calloc)(void* ctx, std::size_t count, std::size_t size);
    void* (*realloc)(void* ctx, void* ptr, std::size_t size);
    void (*free)(void* ctx, void* ptr, std::size_t size);
};
struct NpyHandler {
    char name[127];
    std::uint8_t version;
    NpyAllocator allocator;
};
constexpr const char* kCapsuleName = "mem_handler";

// Indices in NumPy's C-API table (numpy/__multiarray_api.h); fixed for all NumPy versions.
constexpr int kFeatureVersionIndex = 211;  // PyArray_GetNDArrayCFeatureVersion
constexpr int kSetHandlerIndex = 304;      // PyDataMem_SetHandler
constexpr int kGetHandlerIndex = 305;      // PyDataMem_GetHandler
constexpr int kDefaultHandlerIndex = 306;  // PyDataMem_DefaultHandler (a PyObject*)
constexpr unsigned kFeatureVersion1_22 = 0x0f;

// The wrappers record, around any inner allocator, each block as a NumPy buffer.
void* record_malloc(const NpyAllocator& inner, std::size_t size) {
    RecordingScope scope;
    if (!scope) return inner.malloc(inner.ctx, size);
    UntrackedScope untracked;
    void* ptr = inner.malloc(inner.ctx, size);
    record_allocation(ptr, size, Domain::kNumpy);
    return ptr;
}

void* record_calloc(const NpyAllocator& inner, std::size_t count, std::size_t size) {
    RecordingScope scope;
    if (!scope) return inner.calloc(inner.ctx, count, size);
    UntrackedScope untracked;
    void* ptr = inner.calloc(inner.ctx, count, size);
    record_allocation(ptr, count * size, Domain::kNumpy);
    return ptr;
}

void* record_realloc(const NpyAllocator& inner, void* old_ptr, std::size_t size) {
    RecordingScope scope;
    if (!scope) return inner.realloc(inner.ctx, old_ptr, size);
    UntrackedScope untracked;
    // Forgotten first: once the allocator frees it, another thread may be handed its address.
    engine::LiveBlock old_block;
    const bool was_live = forget_allocation(old_ptr, &old_block);
    void* ptr = inner.realloc(inner.ctx, old_ptr, size);
    if (ptr == nullptr && old_ptr != nullptr && size != 0) {
        if (was_live) restore_allocation(old_ptr, old_block);  // failed: the old one stays
        return nullptr;
    }
    record_allocation(ptr, size, Domain::kNumpy);
    return ptr;
}

void record_free(const NpyAllocator& inner, void* ptr, std::size_t size) {
    RecordingScope scope;
    if (ptr != nullptr && scope) {
        UntrackedScope untracked;
        engine::LiveBlock block;
        forget_allocation(ptr, &block);
        inner.free(inner.ctx, ptr, size);
        return;
    }
    inner.free(inner.ctx, ptr, size);
}

// The default handler's own functions, swapped for these while installed. They ignore their
// ctx (the default's, unchanged) and forward to the saved originals.
NpyAllocator g_default_original{};
void* default_malloc(void*, std::size_t size) {
    return record_malloc(g_default_original, size);
}
void* default_calloc(void*, std::size_t count, std::size_t size) {
    return record_calloc(g_default_original, count, size);
}
void* default_realloc(void*, void* ptr, std::size_t size) {
    return record_realloc(g_default_original, ptr, size);
}
void default_free(void*, void* ptr, std::size_t size) {
    record_free(g_default_original, ptr, size);
}

// A wrapping handler for a context whose handler is not the default: its ctx is the wrapped
// handler's allocator. Never freed: arrays keep a reference to the capsule and call it.
void* wrap_malloc(void* ctx, std::size_t size) {
    return record_malloc(*static_cast<NpyAllocator*>(ctx), size);
}
void* wrap_calloc(void* ctx, std::size_t count, std::size_t size) {
    return record_calloc(*static_cast<NpyAllocator*>(ctx), count, size);
}
void* wrap_realloc(void* ctx, void* ptr, std::size_t size) {
    return record_realloc(*static_cast<NpyAllocator*>(ctx), ptr, size);
}
void wrap_free(void* ctx, void* ptr, std::size_t size) {
    record_free(*static_cast<NpyAllocator*>(ctx), ptr, size);
}

struct State {
    NpyHandler* patched = nullptr;  // the default handler while its functions are ours
    PyObject* (*set_handler)(PyObject*) = nullptr;
    PyObject* context_previous = nullptr;  // the tracking thread's handler before ours
};
State g_state;

// Whether `address` lies in a writable mapping of this process (the default handler is static
// data of NumPy's module: writable in every build seen, but a build could make it constant).
bool writable(const void* address) {
    std::FILE* maps = std::fopen("/proc/self/maps", "r");
    if (maps == nullptr) return false;
    const auto where = reinterpret_cast<std::uintptr_t>(address);
    char line[512];
    bool found = false;
    while (!found && std::fgets(line, sizeof line, maps) != nullptr) {
        unsigned long begin = 0, end = 0;
        char perms[5] = {};
        if (std::sscanf(line, "%lx-%lx %4s", &begin, &end, perms) == 3 && where >= begin &&
            where + sizeof(NpyHandler) <= end) {
            found = perms[1] == 'w';
            break;
        }
    }
    std::fclose(maps);
    return found;
}

NpyHandler* handler_of(PyObject* capsule) {
    if (capsule == nullptr || !PyCapsule_IsValid(capsule, kCapsuleName)) return nullptr;
    auto* handler = static_cast<NpyHandler*>(PyCapsule_GetPointer(capsule, kCapsuleName));
    return handler != nullptr && handler->version == 1 ? handler : nullptr;
}

// NumPy's C-API table, if its core module is imported (a new reference to the module in
// `*module`); nullptr otherwise.
void** numpy_api(PyObject** module) {
    for (const char* name : {"numpy._core._multiarray_umath", "numpy.core._multiarray_umath"}) {
        PyObject* key = PyUnicode_FromString(name);
        if (key == nullptr) {
            PyErr_Clear();
            return nullptr;
        }
        PyObject* found = PyImport_GetModule(key);  // never imports
        Py_DECREF(key);
        if (found == nullptr) {
            PyErr_Clear();
            continue;
        }
        PyObject* capsule = PyObject_GetAttrString(found, "_ARRAY_API");
        void** api = nullptr;
        if (capsule != nullptr && PyCapsule_CheckExact(capsule)) {
            api = static_cast<void**>(PyCapsule_GetPointer(capsule, nullptr));
        }
        Py_XDECREF(capsule);
        if (api == nullptr) {
            PyErr_Clear();
            Py_DECREF(found);
            continue;
        }
        *module = found;
        return api;
    }
    return nullptr;
}

}  // namespace

std::string install_numpy_handler() {
    if (g_state.patched != nullptr || g_state.context_previous != nullptr) return {};
    PyObject* module = nullptr;
    void** api = numpy_api(&module);
    if (api == nullptr) return {};
    std::string problem;
    const auto feature_version = reinterpret_cast<unsigned (*)()>(api[kFeatureVersionIndex])();
    if (feature_version < kFeatureVersion1_22) {
        problem =
            "NumPy is older than 1.22 (no data-memory handler): its arrays' buffers are "
            "not traced";
    } else {
        auto set_handler = reinterpret_cast<PyObject* (*)(PyObject*)>(api[kSetHandlerIndex]);
        auto get_handler = reinterpret_cast<PyObject* (*)()>(api[kGetHandlerIndex]);
        PyObject* default_capsule = *static_cast<PyObject**>(api[kDefaultHandlerIndex]);
        NpyHandler* default_handler = handler_of(default_capsule);
        if (default_handler == nullptr) {
            problem =
                "NumPy's default data-memory handler has an unknown layout: its arrays' "
                "buffers are not traced";
        } else if (!writable(default_handler)) {
            problem =
                "NumPy's default data-memory handler is read-only here: its arrays' "
                "buffers are not traced";
        } else {
            g_state.set_handler = set_handler;
            g_default_original = default_handler->allocator;
            // Each pointer is written at once (aligned): a thread allocating meanwhile uses
            // either function, and both reach the same allocator.
            std::atomic_ref<void* (*)(void*, std::size_t)>(default_handler->allocator.malloc)
                .store(default_malloc);
            std::atomic_ref<void* (*)(void*, std::size_t, std::size_t)>(
                default_handler->allocator.calloc)
                .store(default_calloc);
            std::atomic_ref<void* (*)(void*, void*, std::size_t)>(
                default_handler->allocator.realloc)
                .store(default_realloc);
            std::atomic_ref<void (*)(void*, void*, std::size_t)>(default_handler->allocator.free)
                .store(default_free);
            g_state.patched = default_handler;
            // The tracking thread's context may hold another handler: wrap that one too.
            PyObject* current = get_handler();
            NpyHandler* current_handler = handler_of(current);
            if (current != nullptr && current != default_capsule && current_handler != nullptr) {
                auto* wrapper = new NpyHandler{};          // never freed (see wrap_malloc)
                std::memcpy(wrapper->name, "memslim", 8);  // names only the wrapper
                wrapper->version = 1;
                wrapper->allocator = {&current_handler->allocator, wrap_malloc, wrap_calloc,
                                      wrap_realloc, wrap_free};
                Py_INCREF(current);  // keeps the wrapped allocator alive for the wrapper
                PyObject* capsule = PyCapsule_New(wrapper, kCapsuleName, nullptr);
                PyObject* previous = capsule != nullptr ? set_handler(capsule) : nullptr;
                Py_XDECREF(capsule);
                if (previous == nullptr) {
                    PyErr_Clear();
                } else {
                    g_state.context_previous = previous;
                }
            }
            Py_XDECREF(current);
        }
    }
    Py_DECREF(module);
    return problem;
}

void uninstall_numpy_handler() {
    if (g_state.context_previous != nullptr) {
        PyObject* ours = g_state.set_handler(g_state.context_previous);
        if (ours == nullptr) PyErr_Clear();
        Py_XDECREF(ours);
        Py_CLEAR(g_state.context_previous);
    }
    if (g_state.patched != nullptr) {
        NpyAllocator& allocator = g_state.patched->allocator;
        std::atomic_ref<void* (*)(void*, std::size_t)>(allocator.malloc)
            .store(g_default_original.malloc);
        std::atomic_ref<void* (*)(void*, std::size_t, std::size_t)>(allocator.calloc)
            .store(g_default_original.calloc);
        std::atomic_ref<void* (*)(void*, void*, std::size_t)>(allocator.realloc)
            .store(g_default_original.realloc);
        std::atomic_ref<void (*)(void*, void*, std::size_t)>(allocator.free)
            .store(g_default_original.free);
        g_state.patched = nullptr;
    }
}

bool numpy_handler_installed() {
    return g_state.patched != nullptr;
}

}  // namespace memslim::cpython
