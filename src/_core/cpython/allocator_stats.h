// allocator_stats.h — what the allocators beneath the program hold: pymalloc's arenas and the
// C allocator's heap, for the ledger that explains a process's RSS (see docs/design.md, "RSS
// explained").
#pragma once

#include <Python.h>

#include <cstdint>

namespace memslim::cpython {

struct AllocatorStats {
    // pymalloc (Python's small-object allocator); known only when it is Python's object
    // allocator (not under PYTHONMALLOC=malloc).
    bool pymalloc_known = false;
    std::uint64_t pymalloc_arena_bytes = 0;  // arenas allocated now, whole
    std::uint64_t pymalloc_block_bytes = 0;  // in blocks handed out (rounded to 16 bytes)
    // glibc's malloc (mallinfo2, every arena): the free chunks it keeps.
    bool malloc_known = false;
    std::uint64_t malloc_free_bytes = 0;
};

// Reads both allocators' state. Needs the GIL (pymalloc's pools are read in place). Allocates
// nothing from Python's allocators; mallinfo2's own figures exclude what this call allocates.
AllocatorStats allocator_stats();

}  // namespace memslim::cpython
