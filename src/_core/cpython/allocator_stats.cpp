// allocator_stats.cpp — pymalloc's and glibc's own accounts (see allocator_stats.h).
#include "cpython/allocator_stats.h"

#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "cpython/tracker.h"

// Exported by libpython 3.11-3.13, declared in its internal headers only: the report that
// sys._debugmallocstats() prints to stderr, written to `out` instead. Returns 0 (and writes
// nothing) when pymalloc is not Python's object allocator.
extern "C" int _PyObject_DebugMallocStats(FILE* out);

namespace memslim::cpython {

namespace {

// The number after the '=' of a "label = 1,234,567" line.
std::uint64_t value_after_equals(std::string_view line) {
    const std::size_t equals = line.find('=');
    if (equals == std::string_view::npos) return 0;
    std::uint64_t value = 0;
    for (const char c : line.substr(equals + 1)) {
        if (c >= '0' && c <= '9') value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return value;
}

void read_pymalloc(AllocatorStats& stats) {
    char* text = nullptr;
    std::size_t size = 0;
    FILE* out = open_memstream(&text, &size);
    if (out == nullptr) return;
    // The report is written only when pymalloc is the object allocator itself: memslim's hooks
    // (installed while tracking, and inherited by a census child) stand aside for the call.
    PyMemAllocatorEx current{};
    PyMemAllocatorEx original{};
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &current);
    const bool hooked = hooked_allocator_original(PYMEM_DOMAIN_OBJ, &original);
    if (hooked) PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &original);
    const int written = _PyObject_DebugMallocStats(out);
    if (hooked) PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &current);
    std::fclose(out);
    if (written != 0 && text != nullptr) {
        bool arenas = false, blocks = false;
        std::string_view rest(text, size);
        while (!rest.empty()) {
            const std::size_t end = rest.find('\n');
            const std::string_view line = rest.substr(0, end);
            rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
            if (!arenas && line.find("bytes/arena") != std::string_view::npos) {
                stats.pymalloc_arena_bytes = value_after_equals(line);
                arenas = true;
            } else if (!blocks && line.starts_with("# bytes in allocated blocks")) {
                stats.pymalloc_block_bytes = value_after_equals(line);
                blocks = true;
            }
        }
        stats.pymalloc_known = arenas && blocks;
    }
    std::free(text);
}

}  // namespace

AllocatorStats allocator_stats() {
    AllocatorStats stats;
    UntrackedScope untracked;  // the memstream's buffer is memslim's
    // mallinfo2 first: the pymalloc report's buffer would change its figures.
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    const struct mallinfo2 info = mallinfo2();
    stats.malloc_known = true;
    stats.malloc_free_bytes = info.fordblks;
#endif
    read_pymalloc(stats);
    return stats;
}

}  // namespace memslim::cpython
