// block_map.cpp — region directory of the live-block map (see block_map.h).
#include "engine/block_map.h"

namespace memslim::engine {

namespace {
std::size_t home(std::uintptr_t id, std::size_t capacity) {
    return static_cast<std::size_t>((id * 0x9E3779B97F4A7C15ULL) >> 32) & (capacity - 1);
}
}  // namespace

const std::uint32_t* BlockMap::find_region(std::uintptr_t id) const {
    if (directory_.empty()) return nullptr;
    const std::size_t mask = directory_.size() - 1;
    for (std::size_t i = home(id, directory_.size());; i = (i + 1) & mask) {
        if (directory_[i].region_plus_one == id + 1) return directory_[i].entries;
        if (directory_[i].region_plus_one == 0) return nullptr;
    }
}

std::uint32_t* BlockMap::find_or_add(std::uintptr_t id, bool create) {
    if (const std::uint32_t* found = find_region(id); found != nullptr || !create) {
        return const_cast<std::uint32_t*>(found);
    }
    if ((region_ids_.size() + 1) * 2 > directory_.size()) grow_directory();
    storage_.push_back(std::make_unique<std::uint32_t[]>(kSlots));  // zeroed: all empty
    region_ids_.push_back(id);
    std::uint32_t* entries = storage_.back().get();
    const std::size_t mask = directory_.size() - 1;
    std::size_t i = home(id, directory_.size());
    while (directory_[i].region_plus_one != 0) i = (i + 1) & mask;
    directory_[i] = Slot{id + 1, entries};
    return entries;
}

void BlockMap::grow_directory() {
    std::vector<Slot> old = std::move(directory_);
    directory_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
    const std::size_t mask = directory_.size() - 1;
    for (const Slot& s : old) {
        if (s.region_plus_one == 0) continue;
        std::size_t i = home(s.region_plus_one - 1, directory_.size());
        while (directory_[i].region_plus_one != 0) i = (i + 1) & mask;
        directory_[i] = s;
    }
}

}  // namespace memslim::engine
