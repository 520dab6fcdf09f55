// site_table.h — interns call stacks: each distinct stack becomes a small integer "site".
//
// A frame is (code, instruction): an opaque code identity (the code object's address, kept
// alive by the caller) and the instruction offset within it. Line numbers are resolved later,
// at report time, never on the allocation path. Stacks are stored innermost frame first in one
// flat array; lookup is by a 64-bit hash of the frames, confirmed by comparing them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace memslim::engine {

// No default member initialisers on purpose: the allocation hook keeps a buffer of 128
// frames on its stack, and zeroing 2 KiB per allocation cost more than the rest of the hook.
struct Frame {
    std::uintptr_t code;
    std::uint32_t instruction;
    bool operator==(const Frame&) const = default;
};

using SiteId = std::uint32_t;

class SiteTable {
  public:
    // Site 0 is the empty stack: allocations made where no Python frame could be read (for
    // example raw allocations by threads that do not hold the GIL).
    static constexpr SiteId kNoStack = 0;

    SiteTable();

    static std::uint64_t hash(std::span<const Frame> frames);

    // The site of `frames` (innermost first); `hash` must be hash(frames). Sets *is_new when
    // the stack had not been seen before.
    SiteId intern(std::span<const Frame> frames, std::uint64_t hash, bool* is_new);

    [[nodiscard]] std::span<const Frame> frames(SiteId site) const {
        return {frames_.data() + begin_[site], begin_[site + 1] - begin_[site]};
    }
    [[nodiscard]] std::size_t size() const { return begin_.size() - 1; }
    [[nodiscard]] std::size_t memory_bytes() const;

  private:
    void grow_index();

    std::vector<Frame> frames_;
    std::vector<std::uint32_t> begin_;  // site i has frames_[begin_[i] .. begin_[i + 1])
    std::vector<std::uint64_t> hashes_;
    std::vector<SiteId> index_;  // open addressing over hashes_, kEmpty when free
    static constexpr SiteId kEmpty = 0xFFFFFFFFu;
};

}  // namespace memslim::engine
