// progress.h — a one-line progress display on a terminal for steps that take a while.
//
// Nothing is shown for the first `after_seconds` (2 s by default, or MEMSLIM_PROGRESS_AFTER as
// on the Python side: memslim/_progress.py) or when the stream is not a terminal, so short
// steps, pipes and CI logs stay clean. The line is rewritten in place ("\r") at most every
// 0.2 s and erased when the Progress goes away. Only a step the program waits on may show one:
// a census child walks beside the running program, whose next output would join its line on
// the same terminal, so it passes fd -1, which shows nothing.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace memslim::engine {

// Seconds before a progress line shows: MEMSLIM_PROGRESS_AFTER when it is a number (tests set
// 0), else 2.
inline double progress_after_from_environment() {
    const char* text = std::getenv("MEMSLIM_PROGRESS_AFTER");
    if (text == nullptr || *text == '\0') return 2.0;
    char* end = nullptr;
    const double seconds = std::strtod(text, &end);
    return *end == '\0' ? seconds : 2.0;
}

class Progress {
  public:
    using Clock = std::chrono::steady_clock;

    explicit Progress(std::string task, int fd = STDERR_FILENO,
                      double after_seconds = progress_after_from_environment(),
                      bool only_on_terminal = true)
        : task_(std::move(task)),
          fd_(fd),
          after_(after_seconds),
          enabled_(fd >= 0 && (!only_on_terminal || isatty(fd) == 1)),
          started_(Clock::now()) {}
    ~Progress() {
        if (shown_) write_line("\r\033[K");
    }
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    // Reports `done` of `total` items of `step` (total 0: unknown). Cheap enough for a loop:
    // the clock is read once every 4096 calls.
    void update(const char* step, std::size_t done, std::size_t total = 0) {
        if (!enabled_ || (++calls_ & 4095) != 0) return;
        show(step, done, total);
    }

    // Starts a step that reports no counts (shown if the task already runs long).
    void step(const char* step) {
        if (enabled_) show(step, 0, 0);
    }

    [[nodiscard]] bool shown() const { return shown_; }

  private:
    void show(const char* step, std::size_t done, std::size_t total) {
        const Clock::time_point now = Clock::now();
        const double elapsed = std::chrono::duration<double>(now - started_).count();
        if (elapsed < after_ || std::chrono::duration<double>(now - last_).count() < 0.2) return;
        last_ = now;
        char line[256];
        if (total > 0) {
            std::snprintf(line, sizeof line, "\r\033[Kmemslim: %s: %s %zu/%zu (%.0f%%), %.1f s",
                          task_.c_str(), step, done, total, 100.0 * done / total, elapsed);
        } else if (done > 0) {
            std::snprintf(line, sizeof line, "\r\033[Kmemslim: %s: %s %zu, %.1f s", task_.c_str(),
                          step, done, elapsed);
        } else {
            std::snprintf(line, sizeof line, "\r\033[Kmemslim: %s: %s, %.1f s", task_.c_str(), step,
                          elapsed);
        }
        write_line(line);
        shown_ = true;
    }

    void write_line(const char* text) {
        std::string_view rest(text);
        while (!rest.empty()) {
            const ssize_t n = ::write(fd_, rest.data(), rest.size());
            if (n <= 0) return;
            rest.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    std::string task_;
    int fd_;
    double after_;
    bool enabled_;
    bool shown_ = false;
    std::size_t calls_ = 0;
    Clock::time_point started_;
    Clock::time_point last_{};
};

}  // namespace memslim::engine
