// Unit tests for engine/residency: pages written and not, counted against what the test wrote.
#include "engine/residency.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

using memslim::engine::not_resident_bytes;

namespace {

const std::uintptr_t kPage = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));

struct Mapping {
    explicit Mapping(std::size_t pages) : size(pages * kPage) {
        void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        base = p == MAP_FAILED ? 0 : reinterpret_cast<std::uintptr_t>(p);
    }
    ~Mapping() {
        if (base != 0) munmap(reinterpret_cast<void*>(base), size);
    }
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    void write_page(std::size_t i) const {
        std::memset(reinterpret_cast<void*>(base + i * kPage), 1, 1);
    }
    std::size_t size;
    std::uintptr_t base = 0;
};

}  // namespace

TEST(Residency, NeverWrittenPagesAreNotResident) {
    // More pages than one mincore chunk (4,096), so the loop over chunks is crossed.
    const Mapping map(10'000);
    ASSERT_NE(map.base, 0u);
    EXPECT_EQ(not_resident_bytes(map.base, map.size), 10'000 * kPage);
    std::size_t written = 0;
    for (std::size_t i = 0; i < 10'000; i += 7) {
        map.write_page(i);
        ++written;
    }
    EXPECT_EQ(not_resident_bytes(map.base, map.size), (10'000 - written) * kPage);
}

TEST(Residency, PartialPagesAtTheEndsAreLeftOut) {
    const Mapping map(8);
    ASSERT_NE(map.base, 0u);
    map.write_page(3);
    // From the middle of page 0 to the middle of page 7: whole pages 1..6, of which 3 written.
    EXPECT_EQ(not_resident_bytes(map.base + kPage / 2, 7 * kPage), 5 * kPage);
    // Inside one page: no whole page.
    EXPECT_EQ(not_resident_bytes(map.base + 16, kPage - 32), 0u);
}

TEST(Residency, AnUnmappedRangeIsNotKnown) {
    std::uintptr_t base = 0;
    {
        const Mapping map(4);
        ASSERT_NE(map.base, 0u);
        base = map.base;
    }
    EXPECT_FALSE(not_resident_bytes(base, 4 * kPage).has_value());
}
