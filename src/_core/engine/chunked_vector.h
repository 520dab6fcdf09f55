// chunked_vector.h — a growable array in fixed-size chunks: growing never copies, and never
// holds more than one partly used chunk (a std::vector may hold twice what it needs after a
// doubling: tens of MB for the per-site tables of a program with 500,000 sites).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace memslim::engine {

template <class T, unsigned kChunkShift = 12>
class ChunkedVector {
  public:
    static constexpr std::size_t kChunk = std::size_t{1} << kChunkShift;

    T& operator[](std::size_t i) { return chunks_[i >> kChunkShift][i & (kChunk - 1)]; }
    const T& operator[](std::size_t i) const { return chunks_[i >> kChunkShift][i & (kChunk - 1)]; }
    [[nodiscard]] std::size_t size() const { return size_; }

    void push_back(const T& value) {
        if ((size_ >> kChunkShift) == chunks_.size()) {
            chunks_.push_back(std::make_unique<T[]>(kChunk));
        }
        (*this)[size_++] = value;
    }

    // Grows to at least `n` elements, new ones value-initialised.
    void resize_at_least(std::size_t n) {
        while (size_ < n) push_back(T{});
    }

    [[nodiscard]] std::size_t memory_bytes() const {
        return chunks_.size() * kChunk * sizeof(T) +
               chunks_.capacity() * sizeof(std::unique_ptr<T[]>);
    }

  private:
    std::vector<std::unique_ptr<T[]>> chunks_;
    std::size_t size_ = 0;
};

}  // namespace memslim::engine
