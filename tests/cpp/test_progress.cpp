// Tests for engine/progress.h.
#include "engine/progress.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace memslim::engine {
namespace {

std::string drain(int fd) {
    std::string out;
    char buffer[4096];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0)
        out.append(buffer, static_cast<std::size_t>(n));
    return out;
}

TEST(Progress, SilentOnAPipe) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    {
        Progress progress("census", fds[1], 0.0);  // not a terminal: never shown
        for (int i = 0; i < 100000; ++i) progress.update("walking", i, 100000);
        progress.step("dominators");
        EXPECT_FALSE(progress.shown());
    }
    close(fds[1]);
    EXPECT_EQ(drain(fds[0]), "");
    close(fds[0]);
}

TEST(Progress, ShowsStepAndCountsThenErasesTheLine) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    {
        Progress progress("heap census", fds[1], 0.0, /*only_on_terminal=*/false);
        progress.step("computing dominators");
        EXPECT_TRUE(progress.shown());
    }
    close(fds[1]);
    const std::string out = drain(fds[0]);
    close(fds[0]);
    EXPECT_NE(out.find("memslim: heap census: computing dominators"), std::string::npos) << out;
    EXPECT_EQ(out.substr(out.size() - 4), "\r\033[K");
}

TEST(Progress, WaitsBeforeShowing) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    {
        Progress progress("census", fds[1], 60.0, false);
        for (int i = 0; i < 10000; ++i) progress.update("walking", i);
        EXPECT_FALSE(progress.shown());
    }
    close(fds[1]);
    EXPECT_EQ(drain(fds[0]), "");
    close(fds[0]);
}

TEST(Progress, NothingWithoutADescriptor) {
    Progress progress("heap census", -1, 0.0, /*only_on_terminal=*/false);
    progress.step("computing dominators");
    for (int i = 0; i < 10000; ++i) progress.update("walking", i);
    EXPECT_FALSE(progress.shown());
}

TEST(Progress, WaitsAsLongAsTheEnvironmentSays) {
    ASSERT_EQ(setenv("MEMSLIM_PROGRESS_AFTER", "0", 1), 0);
    EXPECT_EQ(progress_after_from_environment(), 0.0);
    ASSERT_EQ(setenv("MEMSLIM_PROGRESS_AFTER", "0.5", 1), 0);
    EXPECT_EQ(progress_after_from_environment(), 0.5);
    ASSERT_EQ(setenv("MEMSLIM_PROGRESS_AFTER", "soon", 1), 0);  // not a number: the default
    EXPECT_EQ(progress_after_from_environment(), 2.0);
    ASSERT_EQ(unsetenv("MEMSLIM_PROGRESS_AFTER"), 0);
    EXPECT_EQ(progress_after_from_environment(), 2.0);
}

}  // namespace
}  // namespace memslim::engine
