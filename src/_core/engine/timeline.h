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

class Timeline {
  public:
    explicit Timeline(std::size_t max_points = 1024)
        : max_points_(max_points < 4 ? 4 : max_points) {}

    // Adds a point; returns true if the timeline was compacted (sample half as often now).
    bool add(const TimelinePoint& point) {
        points_.push_back(point);
        if (points_.size() < max_points_) return false;
        std::vector<TimelinePoint> merged;
        merged.reserve(max_points_ / 2 + 1);
        for (std::size_t i = 0; i + 1 < points_.size(); i += 2) {
            const auto& a = points_[i];
            const auto& b = points_[i + 1];
            merged.push_back(a.traced_bytes >= b.traced_bytes ? a : b);
        }
        if (points_.size() % 2 == 1) merged.push_back(points_.back());
        points_ = std::move(merged);
        return true;
    }

    [[nodiscard]] const std::vector<TimelinePoint>& points() const { return points_; }
    [[nodiscard]] std::size_t max_points() const { return max_points_; }

  private:
    std::size_t max_points_;
    std::vector<TimelinePoint> points_;
};

}  // namespace memslim::engine
