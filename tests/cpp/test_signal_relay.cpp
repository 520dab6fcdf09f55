// Tests for engine/signal_relay.h: the handler still runs, the waiting thread wakes, a fork's
// inherited relay only runs the handler, and die_of_signal ends the process by the signal.
#include "engine/signal_relay.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace memslim::engine {
namespace {

volatile sig_atomic_t g_handled = 0;
void count(int) {
    g_handled = g_handled + 1;
}

void install_counting_handler(int signum) {
    struct sigaction action{};
    action.sa_handler = &count;
    sigemptyset(&action.sa_mask);
    ASSERT_EQ(sigaction(signum, &action, nullptr), 0);
}

// All relay tests run in one forked child each: the relay is process-wide state. A wait that
// is never woken ends the child by SIGALRM, a failure, instead of hanging the suite.
template <class Body>
int in_child(Body body) {
    const pid_t pid = fork();
    if (pid == 0) {
        alarm(30);
        _exit(body());
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(SignalRelay, WakesTheWaiterAndRunsTheHandler) {
    EXPECT_EQ(in_child([] {
                  install_counting_handler(SIGUSR1);
                  if (!relay_signal(SIGUSR1)) return 1;
                  std::atomic<int> woke{-1};
                  std::thread waiter([&] { woke = wait_for_relayed_signal(); });
                  raise(SIGUSR1);
                  waiter.join();
                  if (woke != SIGUSR1) return 2;
                  return g_handled == 1 ? 0 : 3;
              }),
              0);
}

TEST(SignalRelay, ASignalBeforeTheWaitIsNotLost) {
    EXPECT_EQ(in_child([] {
                  install_counting_handler(SIGUSR1);
                  if (!relay_signal(SIGUSR1)) return 1;
                  raise(SIGUSR1);
                  return wait_for_relayed_signal() == SIGUSR1 && g_handled == 1 ? 0 : 2;
              }),
              0);
}

TEST(SignalRelay, NothingToRelayWithoutAHandler) {
    EXPECT_EQ(in_child([] {
                  signal(SIGUSR1, SIG_DFL);
                  signal(SIGUSR2, SIG_IGN);
                  if (relay_signal(SIGUSR1) || relay_signal(SIGUSR2)) return 1;
                  return wait_for_relayed_signal() == 0 ? 0 : 2;  // nothing armed: no wait
              }),
              0);
}

TEST(SignalRelay, OneSignalPerProcess) {
    EXPECT_EQ(in_child([] {
                  install_counting_handler(SIGUSR1);
                  install_counting_handler(SIGUSR2);
                  if (!relay_signal(SIGUSR1) || relay_signal(SIGUSR2)) return 1;
                  return relay_signal(SIGUSR1) ? 0 : 2;  // re-armed
              }),
              0);
}

TEST(SignalRelay, AForkOnlyRunsTheHandlerUntilReArmed) {
    EXPECT_EQ(in_child([] {
                  install_counting_handler(SIGUSR1);
                  if (!relay_signal(SIGUSR1)) return 1;
                  // The fork's copy: the handler runs, the parent's waiter is not woken.
                  const int fork_status = in_child([] {
                      raise(SIGUSR1);
                      if (g_handled != 1) return 1;
                      if (!relay_signal(SIGUSR1)) return 2;  // its own waiter from now on
                      raise(SIGUSR1);
                      return wait_for_relayed_signal() == SIGUSR1 && g_handled == 2 ? 0 : 3;
                  });
                  if (fork_status != 0) return 10 + fork_status;
                  // Nothing came to this process: a signal now is the first one waited for.
                  raise(SIGUSR1);
                  return wait_for_relayed_signal() == SIGUSR1 && g_handled == 1 ? 0 : 4;
              }),
              0);
}

TEST(SignalRelay, DieOfSignalEndsTheProcessByIt) {
    // From a thread that blocks the signal, with a handler installed: the process still ends
    // by the signal, as its default action would have ended it.
    EXPECT_EQ(in_child([] {
                  install_counting_handler(SIGTERM);
                  std::thread killer([] {
                      sigset_t all;
                      sigfillset(&all);
                      pthread_sigmask(SIG_BLOCK, &all, nullptr);
                      die_of_signal(SIGTERM);
                  });
                  killer.join();
                  return 0;
              }),
              128 + SIGTERM);
}

}  // namespace
}  // namespace memslim::engine
