// residency.h — how much of a block of memory is not resident: allocated, never written.
//
// A large block (malloc's mmap, NumPy's calloc for np.zeros, np.empty) takes address space at
// once and RAM only as its pages are first written. memslim counts what was requested, as
// tracemalloc and memray do, so a program that allocates more than it writes holds more
// traced bytes than RSS: the RSS ledger subtracts these pages (rss.py).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace memslim::engine {

// The bytes of the whole pages inside [address, address + size) that are not resident (never
// written, or swapped out), by mincore(2); the partial pages at either end are left out (their
// neighbours' memory). nullopt when part of the range is not mapped.
inline std::optional<std::uint64_t> not_resident_bytes(std::uintptr_t address, std::uint64_t size) {
    static const std::uintptr_t page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    const std::uintptr_t begin = (address + page - 1) & ~(page - 1);
    const std::uintptr_t end = (address + size) & ~(page - 1);
    if (end <= begin) return 0;
    // One byte per page, on the stack: ranges are read 4,096 pages (16 MiB) at a time.
    constexpr std::size_t kChunk = 4096;
    unsigned char resident[kChunk];
    std::uint64_t missing = 0;
    for (std::uintptr_t at = begin; at < end;) {
        const std::size_t pages = std::min<std::uintptr_t>(kChunk, (end - at) / page);
        if (mincore(reinterpret_cast<void*>(at), pages * page, resident) != 0) return std::nullopt;
        for (std::size_t i = 0; i < pages; ++i) missing += (resident[i] & 1) == 0 ? 1 : 0;
        at += pages * page;
    }
    return missing * page;
}

}  // namespace memslim::engine
