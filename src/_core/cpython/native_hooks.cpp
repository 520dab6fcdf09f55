// native_hooks.cpp — the C allocator hooked through each loaded object's GOT (see
// native_hooks.h).
#include "cpython/native_hooks.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_set>

#include "cpython/tracker.h"

namespace memslim::cpython {

namespace {

// The real functions, found by the dynamic linker's own lookup (an allocator preloaded in
// front of glibc's is the one called).
struct Real {
    void* (*malloc)(std::size_t) = nullptr;
    void* (*calloc)(std::size_t, std::size_t) = nullptr;
    void* (*realloc)(void*, std::size_t) = nullptr;
    void (*free)(void*) = nullptr;
    int (*posix_memalign)(void**, std::size_t, std::size_t) = nullptr;
    void* (*aligned_alloc)(std::size_t, std::size_t) = nullptr;
    void* (*memalign)(std::size_t, std::size_t) = nullptr;
    void* (*valloc)(std::size_t) = nullptr;
    void* (*pvalloc)(std::size_t) = nullptr;
    void* (*reallocarray)(void*, std::size_t, std::size_t) = nullptr;
    void* (*dlopen)(const char*, int) = nullptr;
    PyThreadState* (*save_thread)() = nullptr;
    void (*restore_thread)(PyThreadState*) = nullptr;
    void* (*mmap)(void*, std::size_t, int, int, int, off_t) = nullptr;
    void* (*mmap64)(void*, std::size_t, int, int, int, off_t) = nullptr;
    int (*munmap)(void*, std::size_t) = nullptr;
    void* (*mremap)(void*, std::size_t, std::size_t, int, ...) = nullptr;
};
Real g_real;

// The real functions are looked up once (install_native_hooks), before any hook can run; the
// hooks read them with acquire ordering (a plain load on x86-64), so that their publication to
// other threads is defined for the memory model, and for ThreadSanitizer (scripts/tsan.sh).
template <class F>
F real(F& field) {
    return __atomic_load_n(&field, __ATOMIC_ACQUIRE);
}

// record_in and forget_in: inside a RecordingScope that is true (see tracker.h).
void record_in(void* ptr, std::size_t size) {
    if (ptr == nullptr) return;
    UntrackedScope untracked;
    record_allocation(ptr, size, Domain::kNative);
}

// Forgets `ptr` before the real free or realloc can hand its address to another thread.
bool forget_in(void* ptr, engine::LiveBlock* block) {
    if (ptr == nullptr) return false;
    UntrackedScope untracked;
    return forget_allocation(ptr, block);
}

void record(void* ptr, std::size_t size) {
    if (ptr == nullptr) return;
    if (RecordingScope scope; scope) record_in(ptr, size);
}

bool forget(void* ptr, engine::LiveBlock* block) {
    if (ptr == nullptr) return false;
    RecordingScope scope;
    return scope && forget_in(ptr, block);
}

void* hook_malloc(std::size_t size) {
    void* ptr = real(g_real.malloc)(size);
    record(ptr, size);
    return ptr;
}

void* hook_calloc(std::size_t count, std::size_t size) {
    void* ptr = real(g_real.calloc)(count, size);
    record(ptr, count * size);
    return ptr;
}

void hook_free(void* ptr) {
    engine::LiveBlock block;
    forget(ptr, &block);
    real(g_real.free)(ptr);
}

// One scope from the old block's forgetting to the new one's recording (or the old one's
// return, when the resize fails).
template <class Resize>
void* resized(void* old_ptr, std::size_t size, Resize resize) {
    RecordingScope scope;
    if (!scope) return resize();
    engine::LiveBlock old_block;
    const bool was_live = forget_in(old_ptr, &old_block);
    void* ptr = resize();
    if (ptr == nullptr && old_ptr != nullptr && size != 0) {
        if (was_live) {  // failed: the old block is still there
            UntrackedScope untracked;
            restore_allocation(old_ptr, old_block);
        }
        return nullptr;
    }
    record_in(ptr, size);
    return ptr;
}

void* hook_realloc(void* old_ptr, std::size_t size) {
    return resized(old_ptr, size, [&] { return real(g_real.realloc)(old_ptr, size); });
}

void* hook_reallocarray(void* old_ptr, std::size_t count, std::size_t size) {
    return resized(old_ptr, count * size,
                   [&] { return real(g_real.reallocarray)(old_ptr, count, size); });
}

int hook_posix_memalign(void** out, std::size_t alignment, std::size_t size) {
    const int failed = real(g_real.posix_memalign)(out, alignment, size);
    if (failed == 0) record(*out, size);
    return failed;
}

void* hook_aligned_alloc(std::size_t alignment, std::size_t size) {
    void* ptr = real(g_real.aligned_alloc)(alignment, size);
    record(ptr, size);
    return ptr;
}

void* hook_memalign(std::size_t alignment, std::size_t size) {
    void* ptr = real(g_real.memalign)(alignment, size);
    record(ptr, size);
    return ptr;
}

void* hook_valloc(std::size_t size) {
    void* ptr = real(g_real.valloc)(size);
    record(ptr, size);
    return ptr;
}

void* hook_pvalloc(std::size_t size) {
    void* ptr = real(g_real.pvalloc)(size);
    record(ptr, size);
    return ptr;
}

// Anonymous maps made while tracking: start -> length (whole pages). A munmap may cut any part
// of one (or of several): the parts left stay recorded, at the site that made the map.
std::mutex g_maps_mutex;
std::map<std::uintptr_t, std::size_t> g_maps;

std::size_t page_size() {
    static const auto size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return size;
}

std::size_t whole_pages(std::size_t length) {
    return (length + page_size() - 1) / page_size() * page_size();
}

// Forgets the recorded maps in [begin, end), keeping the parts outside it. Needs
// g_maps_mutex, inside an UntrackedScope.
void unmap_range(std::uintptr_t begin, std::uintptr_t end) {
    auto it = g_maps.upper_bound(begin);
    if (it != g_maps.begin()) --it;
    while (it != g_maps.end() && it->first < end) {
        const std::uintptr_t start = it->first;
        const std::uintptr_t stop = start + it->second;
        if (stop <= begin) {
            ++it;
            continue;
        }
        engine::LiveBlock block;
        const bool recorded = forget_allocation(reinterpret_cast<void*>(start), &block);
        it = g_maps.erase(it);
        const auto keep = [&](std::uintptr_t from, std::uintptr_t to) {
            if (from >= to) return;
            g_maps.emplace(from, to - from);
            if (recorded)
                restore_allocation(reinterpret_cast<void*>(from), {to - from, block.site});
        };
        keep(start, std::min(stop, begin));
        keep(std::max(start, end), stop);
        if (stop > end) break;
    }
}

// Address space reserved while tracking (see record_map), in bytes.
std::atomic<std::uint64_t> g_reserved{0};

void record_map(void* ptr, std::size_t length, int prot, int flags) {
    if (ptr == MAP_FAILED || (flags & MAP_ANONYMOUS) == 0) return;
    RecordingScope scope;
    if (!scope) return;
    UntrackedScope untracked;
    const auto begin = reinterpret_cast<std::uintptr_t>(ptr);
    const std::size_t bytes = whole_pages(length);
    std::lock_guard<std::mutex> hold(g_maps_mutex);
    unmap_range(begin, begin + bytes);  // MAP_FIXED replaced whatever was there
    // A map that cannot be written (PROT_NONE) or that asks for no swap to back it
    // (MAP_NORESERVE) reserves address space: an allocator inside a library (mimalloc's 1 GiB
    // arenas in PyArrow, glibc's per-thread heaps) hands out parts of it later without a call
    // memslim sees. Counted as held, an untouched gigabyte showed at the line that first used
    // PyArrow's pool, four times the process's peak RSS.
    if (prot == PROT_NONE || (flags & MAP_NORESERVE) != 0) {
        g_reserved.fetch_add(bytes, std::memory_order_relaxed);
        return;
    }
    g_maps.emplace(begin, bytes);
    record_allocation(ptr, bytes, Domain::kMmap);
}

void* hook_mmap(void* address, std::size_t length, int prot, int flags, int fd, off_t offset) {
    void* ptr = real(g_real.mmap)(address, length, prot, flags, fd, offset);
    record_map(ptr, length, prot, flags);
    return ptr;
}

void* hook_mmap64(void* address, std::size_t length, int prot, int flags, int fd, off_t offset) {
    void* ptr = real(g_real.mmap64)(address, length, prot, flags, fd, offset);
    record_map(ptr, length, prot, flags);
    return ptr;
}

int hook_munmap(void* address, std::size_t length) {
    if (RecordingScope scope; scope) {  // forgotten first: the range may be mapped again at once
        UntrackedScope untracked;
        const auto begin = reinterpret_cast<std::uintptr_t>(address);
        std::lock_guard<std::mutex> hold(g_maps_mutex);
        unmap_range(begin, begin + whole_pages(length));
    }
    return real(g_real.munmap)(address, length);
}

void* hook_mremap(void* old_address, std::size_t old_length, std::size_t new_length, int flags,
                  ...) {
    void* wanted = nullptr;
    if (flags & MREMAP_FIXED) {
        va_list args;
        va_start(args, flags);
        wanted = va_arg(args, void*);
        va_end(args);
    }
    RecordingScope scope;
    if (!scope) return real(g_real.mremap)(old_address, old_length, new_length, flags, wanted);
    UntrackedScope untracked;
    std::lock_guard<std::mutex> hold(g_maps_mutex);
    const auto old_begin = reinterpret_cast<std::uintptr_t>(old_address);
    const auto found = g_maps.find(old_begin);
    engine::LiveBlock block;
    const bool recorded = found != g_maps.end() && found->second == whole_pages(old_length) &&
                          forget_allocation(old_address, &block);
    void* ptr = real(g_real.mremap)(old_address, old_length, new_length, flags, wanted);
    if (!recorded) return ptr;
    if (ptr == MAP_FAILED) {
        restore_allocation(old_address, block);
        return ptr;
    }
    g_maps.erase(old_begin);
    const auto begin = reinterpret_cast<std::uintptr_t>(ptr);
    unmap_range(begin, begin + whole_pages(new_length));
    g_maps.emplace(begin, whole_pages(new_length));
    restore_allocation(ptr, {whole_pages(new_length), block.site});
    return ptr;
}

void patch_new_objects();

// Every import of an extension module comes through here (Python's dynload calls dlopen):
// the objects it loads are patched before their code first runs.
void* hook_dlopen(const char* file, int flags) {
    void* handle = real(g_real.dlopen)(file, flags);
    if (handle != nullptr) patch_new_objects();
    return handle;
}

// Threads now between Py_BEGIN_ALLOW_THREADS and Py_END_ALLOW_THREADS in a native module
// other than the standard library's (native_threads_without_gil), and whether this one is.
std::atomic<int> g_without_gil{0};
thread_local bool t_without_gil = false;

// Whether the hooks record allocations: not under --python-only, where only dlopen and the GIL
// sections are hooked, to count the threads that a census fork could leave waiting.
std::atomic<bool> g_allocations{true};

// Py_BEGIN_ALLOW_THREADS in a native module: the last moment its thread can read its Python
// stack safely. Interned now, the stack is where its allocations without the GIL go.
PyThreadState* hook_save_thread_quiet() {
    if (g_allocations.load(std::memory_order_relaxed)) intern_stack_before_release();
    return real(g_real.save_thread)();
}

// The same in a module outside the standard library, whose code without the GIL may be a
// library's with fork handlers (OpenBLAS): counted until Py_END_ALLOW_THREADS. The count is
// raised while the thread still holds the GIL, so a census thread, which holds it, sees it.
PyThreadState* hook_save_thread() {
    if (!t_without_gil) {
        t_without_gil = true;
        g_without_gil.fetch_add(1);
    }
    return hook_save_thread_quiet();
}

// Py_END_ALLOW_THREADS: the thread has left the module's code; it now waits for the GIL.
void hook_restore_thread(PyThreadState* state) {
    if (t_without_gil) {
        t_without_gil = false;
        g_without_gil.fetch_sub(1);
    }
    real(g_real.restore_thread)(state);
}

void hook_restore_thread_quiet(PyThreadState* state) {
    real(g_real.restore_thread)(state);
}

struct Hook {
    const char* name;
    void* replacement;
    void** real;
    // The replacement in the standard library's own objects (see quiet_object), if another.
    void* quiet = nullptr;
    // Hooked without allocations too (--python-only): it counts threads without the GIL.
    bool counts_threads = false;
};
// clang-format off
const Hook kHooks[] = {
    {"malloc", reinterpret_cast<void*>(hook_malloc), reinterpret_cast<void**>(&g_real.malloc)},
    {"calloc", reinterpret_cast<void*>(hook_calloc), reinterpret_cast<void**>(&g_real.calloc)},
    {"realloc", reinterpret_cast<void*>(hook_realloc), reinterpret_cast<void**>(&g_real.realloc)},
    {"free", reinterpret_cast<void*>(hook_free), reinterpret_cast<void**>(&g_real.free)},
    {"posix_memalign", reinterpret_cast<void*>(hook_posix_memalign),
     reinterpret_cast<void**>(&g_real.posix_memalign)},
    {"aligned_alloc", reinterpret_cast<void*>(hook_aligned_alloc),
     reinterpret_cast<void**>(&g_real.aligned_alloc)},
    {"memalign", reinterpret_cast<void*>(hook_memalign), reinterpret_cast<void**>(&g_real.memalign)},
    {"valloc", reinterpret_cast<void*>(hook_valloc), reinterpret_cast<void**>(&g_real.valloc)},
    {"pvalloc", reinterpret_cast<void*>(hook_pvalloc), reinterpret_cast<void**>(&g_real.pvalloc)},
    {"reallocarray", reinterpret_cast<void*>(hook_reallocarray),
     reinterpret_cast<void**>(&g_real.reallocarray)},
    {"dlopen", reinterpret_cast<void*>(hook_dlopen), reinterpret_cast<void**>(&g_real.dlopen),
     nullptr, true},
    {"PyEval_SaveThread", reinterpret_cast<void*>(hook_save_thread),
     reinterpret_cast<void**>(&g_real.save_thread), reinterpret_cast<void*>(hook_save_thread_quiet),
     true},
    {"PyEval_RestoreThread", reinterpret_cast<void*>(hook_restore_thread),
     reinterpret_cast<void**>(&g_real.restore_thread),
     reinterpret_cast<void*>(hook_restore_thread_quiet), true},
    {"mmap", reinterpret_cast<void*>(hook_mmap), reinterpret_cast<void**>(&g_real.mmap)},
    {"mmap64", reinterpret_cast<void*>(hook_mmap64), reinterpret_cast<void**>(&g_real.mmap64)},
    {"munmap", reinterpret_cast<void*>(hook_munmap), reinterpret_cast<void**>(&g_real.munmap)},
    {"mremap", reinterpret_cast<void*>(hook_mremap), reinterpret_cast<void**>(&g_real.mremap)},
};
// clang-format on

const Hook* hook_named(const char* name) {
    // Nearly every relocation is for another symbol: its first letter rules most out.
    if (std::strchr("mcrfpavdP", name[0]) == nullptr) return nullptr;
    const bool allocations = g_allocations.load(std::memory_order_relaxed);
    for (const Hook& hook : kHooks) {
        if (*hook.real != nullptr && (allocations || hook.counts_threads) &&
            std::strcmp(hook.name, name) == 0) {
            return &hook;
        }
    }
    return nullptr;
}

// What patching does to each slot of a hooked symbol.
enum class Action { kInstall, kUninstall };

struct Patcher {
    Action action;
    const char* own_file = nullptr;                      // memslim's module: never patched
    std::unordered_set<std::uintptr_t>* done = nullptr;  // objects patched (by base), if kept
    long page = sysconf(_SC_PAGESIZE);
};

// Writes `value` into a GOT slot, making its page writable for the write when it is in the
// object's read-only-after-relocation region (RELRO).
void write_slot(void** slot, void* value, std::uintptr_t relro_begin, std::uintptr_t relro_end,
                long page) {
    const auto where = reinterpret_cast<std::uintptr_t>(slot);
    const bool read_only = where >= relro_begin && where < relro_end;
    auto* page_start = reinterpret_cast<void*>(where & ~static_cast<std::uintptr_t>(page - 1));
    if (read_only && mprotect(page_start, static_cast<std::size_t>(page), PROT_READ | PROT_WRITE)) {
        return;  // cannot write it: this slot stays as it is
    }
    __atomic_store_n(slot, value, __ATOMIC_RELEASE);
    if (read_only) mprotect(page_start, static_cast<std::size_t>(page), PROT_READ);
}

// The interpreter and the standard library's extension modules: a thread that releases the GIL
// in them waits for I/O, a lock or a timer (a service's threads, for good), and runs no
// library's code that a fork could break.
bool quiet_object(const char* name) {
    return name[0] == '\0' || std::strstr(name, "/lib-dynload/") != nullptr ||
           std::strstr(name, "/libpython3") != nullptr;
}

int patch_object(dl_phdr_info* info, std::size_t, void* arg) {
    auto& patcher = *static_cast<Patcher*>(arg);
    const char* name = info->dlpi_name != nullptr ? info->dlpi_name : "";
    // Not the program's: the loader, the vDSO, memslim itself, and a sanitizer's runtime (it
    // is the C allocator under a sanitized build: scripts/sanitize.sh).
    if (std::strstr(name, "linux-vdso") != nullptr || std::strstr(name, "/ld-linux") != nullptr ||
        std::strncmp(name, "ld-linux", 8) == 0 || std::strstr(name, "/libasan.") != nullptr ||
        std::strstr(name, "/libubsan.") != nullptr || std::strstr(name, "/libtsan.") != nullptr ||
        (patcher.own_file != nullptr && std::strcmp(name, patcher.own_file) == 0)) {
        return 0;
    }
    const std::uintptr_t base = info->dlpi_addr;
    if (patcher.done != nullptr && !patcher.done->insert(base).second) return 0;
    const ElfW(Dyn)* dynamic = nullptr;
    std::uintptr_t relro_begin = 0, relro_end = 0;
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr) & phdr = info->dlpi_phdr[i];
        if (phdr.p_type == PT_DYNAMIC) {
            dynamic = reinterpret_cast<const ElfW(Dyn)*>(base + phdr.p_vaddr);
        } else if (phdr.p_type == PT_GNU_RELRO) {
            // The loader makes read-only the whole pages of this region only (as glibc's
            // _dl_protect_relro): a slot on its last, partial page stays writable, and must
            // not be made read-only after the write.
            const auto mask = ~static_cast<std::uintptr_t>(patcher.page - 1);
            relro_begin = (base + phdr.p_vaddr) & mask;
            relro_end = (base + phdr.p_vaddr + phdr.p_memsz) & mask;
        }
    }
    if (dynamic == nullptr) return 0;
    // glibc relocates these addresses in place on x86-64; an object it has not (or another
    // loader) still holds them relative to its base.
    const auto address = [base](ElfW(Addr) value) -> std::uintptr_t {
        return value < base ? base + value : value;
    };
    const ElfW(Sym)* symbols = nullptr;
    const char* strings = nullptr;
    const ElfW(Rela)* plt = nullptr;
    std::size_t plt_bytes = 0;
    const ElfW(Rela)* rela = nullptr;
    std::size_t rela_bytes = 0;
    bool plt_is_rela = true;
    for (const ElfW(Dyn)* d = dynamic; d->d_tag != DT_NULL; ++d) {
        switch (d->d_tag) {
            case DT_SYMTAB:
                symbols = reinterpret_cast<const ElfW(Sym)*>(address(d->d_un.d_ptr));
                break;
            case DT_STRTAB:
                strings = reinterpret_cast<const char*>(address(d->d_un.d_ptr));
                break;
            case DT_JMPREL:
                plt = reinterpret_cast<const ElfW(Rela)*>(address(d->d_un.d_ptr));
                break;
            case DT_PLTRELSZ:
                plt_bytes = d->d_un.d_val;
                break;
            case DT_PLTREL:
                plt_is_rela = d->d_un.d_val == DT_RELA;
                break;
            case DT_RELA:
                rela = reinterpret_cast<const ElfW(Rela)*>(address(d->d_un.d_ptr));
                break;
            case DT_RELASZ:
                rela_bytes = d->d_un.d_val;
                break;
            default:
                break;
        }
    }
    if (symbols == nullptr || strings == nullptr) return 0;
    const bool quiet = quiet_object(name);
    const auto patch = [&](const ElfW(Rela)* table, std::size_t bytes) {
        if (table == nullptr) return;
        for (std::size_t i = 0; i < bytes / sizeof(ElfW(Rela)); ++i) {
            const auto type = ELF64_R_TYPE(table[i].r_info);
            // Calls (JUMP_SLOT), function pointers loaded through the GOT (GLOB_DAT), and
            // pointers stored in data at load time (64, as in `alloc_fn f = malloc;`).
            if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT &&
                !(type == R_X86_64_64 && table[i].r_addend == 0)) {
                continue;
            }
            const auto symbol = ELF64_R_SYM(table[i].r_info);
            if (symbol == 0) continue;
            const Hook* hook = hook_named(strings + symbols[symbol].st_name);
            if (hook == nullptr) continue;
            auto** slot = reinterpret_cast<void**>(base + table[i].r_offset);
            void* now = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
            // A pointer in data may have been changed by its owner since it was loaded (a
            // custom allocator set at run time): only the one still holding the real function
            // is taken.
            if (type == R_X86_64_64 && patcher.action == Action::kInstall && now != *hook->real) {
                continue;
            }
            // Without allocations the quiet replacements do nothing: the slot is left alone.
            if (quiet && hook->quiet != nullptr && !g_allocations.load(std::memory_order_relaxed) &&
                patcher.action == Action::kInstall) {
                continue;
            }
            void* const replacement =
                quiet && hook->quiet != nullptr ? hook->quiet : hook->replacement;
            if (patcher.action == Action::kInstall && now != replacement) {
                write_slot(slot, replacement, relro_begin, relro_end, patcher.page);
            } else if (patcher.action == Action::kUninstall && now == replacement) {
                write_slot(slot, *hook->real, relro_begin, relro_end, patcher.page);
            }
        }
    };
    if (plt_is_rela) patch(plt, plt_bytes);
    patch(rela, rela_bytes);
    return 0;
}

// Guards the state below and every patching walk. Held across fork() (pthread_atfork), with
// g_maps_mutex, so that a child forked while another thread patched (a dlopen) or unmapped does
// not inherit them locked.
std::mutex g_mutex;
bool g_installed = false;
bool g_fork_handlers = false;
std::string g_own_file;
std::unordered_set<std::uintptr_t> g_patched;  // objects patched, by base address
unsigned long long g_unloads = 0;              // dlpi_subs when g_patched was last right

int count_unloads(dl_phdr_info* info, std::size_t, void* arg) {
    *static_cast<unsigned long long*>(arg) = info->dlpi_subs;
    return 1;  // the counters are the same in every entry
}

// Needs g_mutex.
void patch_all_locked() {
    unsigned long long unloads = 0;
    dl_iterate_phdr(count_unloads, &unloads);
    if (unloads != g_unloads) {
        g_patched.clear();  // an object went away: another may now sit at its address
        g_unloads = unloads;
    }
    Patcher patcher{Action::kInstall, g_own_file.c_str(), &g_patched};
    dl_iterate_phdr(patch_object, &patcher);
}

// Needs g_mutex.
void uninstall_locked() {
    if (!g_installed) return;
    g_installed = false;
    Patcher patcher{Action::kUninstall, g_own_file.c_str(), nullptr};
    dl_iterate_phdr(patch_object, &patcher);
    g_patched.clear();
}

void patch_new_objects() {
    std::lock_guard<std::mutex> hold(g_mutex);
    if (g_installed) patch_all_locked();
}

}  // namespace

std::string install_native_hooks(bool allocations) {
#if !defined(__linux__) || !defined(__x86_64__)
    return "native allocations are traced on Linux x86-64 only";
#else
    std::lock_guard<std::mutex> hold(g_mutex);
    if (g_installed) {
        if (g_allocations.load(std::memory_order_relaxed) == allocations) return {};
        uninstall_locked();  // the other set of hooks: put back before the new one
    }
    if (g_real.malloc == nullptr) {
        for (const Hook& hook : kHooks) {
            __atomic_store_n(hook.real, dlsym(RTLD_DEFAULT, hook.name), __ATOMIC_RELEASE);
        }
        if (g_real.malloc == nullptr || g_real.free == nullptr || g_real.realloc == nullptr ||
            g_real.calloc == nullptr) {
            g_real.malloc = nullptr;
            return "the C allocator's functions were not found: native allocations are not "
                   "traced";
        }
        Dl_info own{};
        if (dladdr(reinterpret_cast<void*>(&install_native_hooks), &own) != 0 &&
            own.dli_fname != nullptr) {
            g_own_file = own.dli_fname;
        }
    }
    if (!g_fork_handlers) {
        const auto lock = [] {
            g_mutex.lock();
            g_maps_mutex.lock();
        };
        const auto unlock = [] {
            g_maps_mutex.unlock();
            g_mutex.unlock();
        };
        pthread_atfork(lock, unlock, unlock);
        g_fork_handlers = true;
    }
    g_patched.clear();
    g_reserved.store(0);
    g_without_gil.store(0);  // threads counted by an earlier install, restored unhooked
    g_allocations.store(allocations, std::memory_order_relaxed);
    g_installed = true;
    patch_all_locked();
    return {};
#endif
}

void uninstall_native_hooks() {
    std::lock_guard<std::mutex> hold(g_mutex);
    uninstall_locked();
}

bool native_hooks_installed() {
    std::lock_guard<std::mutex> hold(g_mutex);
    return g_installed && g_allocations.load(std::memory_order_relaxed);
}

int native_threads_without_gil() {
    // The calling thread holds the GIL. It may be counted all the same: a native module that
    // released the GIL takes it back with PyGILState_Ensure to call Python (pandas 2's CSV parser
    // reads its file so, and a census ran inside that read), not through PyEval_RestoreThread.
    return g_without_gil.load() - (t_without_gil ? 1 : 0);
}

std::uint64_t reserved_map_bytes() {
    return g_reserved.load(std::memory_order_relaxed);
}

}  // namespace memslim::cpython
