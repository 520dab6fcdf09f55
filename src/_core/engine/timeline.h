// timeline.h — traced bytes and RSS over time, in a bounded number of points however long the
// run. When the buffer is full, neighbouring points are merged pairwise (keeping the one with
// more traced bytes, so peaks stay visible) and the caller is told to sample half as often.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace memslim::engine {

struct TimelinePoint {
    double seconds = 0;
    std::int64_t traced_bytes = 0;
    std::int64_t rss_bytes = 0;
    // Of traced_bytes: NumPy's buffers, and native memory (the C allocator, anonymous maps).
    std::int64_t numpy_bytes = 0;
    std::int64_t native_bytes = 0;
};

// Its memory is reserved when it is made, and add() never allocates: the thread that adds the
// points (memslim's timeline thread) calls no malloc, so the C allocator gives it no arena of
// its own (glibc reserves 64 MiB of address space for each, which a program under
// `ulimit -v` would lose).
class Timeline {
  public:
    explicit Timeline(std::size_t max_points = 1024)
        : max_points_(max_points < 4 ? 4 : max_points) {
        points_.reserve(max_points_);
    }

    // Adds a point; returns true if the timeline was compacted (sample half as often now).
    bool add(const TimelinePoint& point) {
        points_.push_back(point);  // within the reserved capacity: size < max_points_ before
        if (points_.size() < max_points_) return false;
        std::size_t kept = 0;  // merged in place: kept <= i, so no pair is overwritten unread
        for (std::size_t i = 0; i + 1 < points_.size(); i += 2) {
            const TimelinePoint& a = points_[i];
            const TimelinePoint& b = points_[i + 1];
            const TimelinePoint chosen = a.traced_bytes >= b.traced_bytes ? a : b;
            points_[kept++] = chosen;
        }
        if (points_.size() % 2 == 1) points_[kept++] = points_.back();
        points_.resize(kept);
        return true;
    }

    [[nodiscard]] const std::vector<TimelinePoint>& points() const { return points_; }
    [[nodiscard]] std::size_t max_points() const { return max_points_; }

  private:
    std::size_t max_points_;
    std::vector<TimelinePoint> points_;
};

}  // namespace memslim::engine
