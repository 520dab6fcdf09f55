#include "engine/signal_relay.h"

#include <semaphore.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace memslim::engine {
namespace {

// Written only with the relayed signal blocked in the writing thread, before the handler is
// (re)armed; read by the handler.
struct sigaction g_previous;
sem_t g_arrived;
volatile sig_atomic_t g_signum = 0;
volatile pid_t g_owner = 0;  // the process whose waiting thread the relay wakes
bool g_armed = false;        // g_arrived is initialised

std::mutex g_grace_mutex;
std::condition_variable g_grace_ended;
// Set once memslim's code runs after the signal, in either thread (the waiting one, or the main
// thread's handler, which may come first): never reset but when the relay is armed again.
std::atomic<bool> g_spared{false};

void relay(int signum, siginfo_t* info, void* context) {
    const int saved_errno = errno;
    if (getpid() == g_owner) sem_post(&g_arrived);
    errno = saved_errno;
    if ((g_previous.sa_flags & SA_SIGINFO) != 0) {
        g_previous.sa_sigaction(signum, info, context);
    } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
        g_previous.sa_handler(signum);
    }
}

bool is_relay(const struct sigaction& action) {
    return (action.sa_flags & SA_SIGINFO) != 0 && action.sa_sigaction == &relay;
}

}  // namespace

bool relay_signal(int signum) {
    if (g_signum != 0 && g_signum != signum) return false;
    sigset_t only;
    sigset_t mask;
    sigemptyset(&only);
    sigaddset(&only, signum);
    pthread_sigmask(SIG_BLOCK, &only, &mask);
    struct Restore {
        const sigset_t* mask;
        ~Restore() { pthread_sigmask(SIG_SETMASK, mask, nullptr); }
    } restore{&mask};

    struct sigaction current{};
    if (sigaction(signum, nullptr, &current) != 0) return false;
    if (!is_relay(current)) {
        if ((current.sa_flags & SA_SIGINFO) == 0 &&
            (current.sa_handler == SIG_DFL || current.sa_handler == SIG_IGN)) {
            return false;
        }
    }
    // Armed in this process from now on; a signal that came before is not counted.
    if (g_armed) sem_destroy(&g_arrived);
    g_armed = sem_init(&g_arrived, 0, 0) == 0;
    if (!g_armed) return false;
    g_owner = getpid();
    g_spared.store(false);
    if (is_relay(current)) return true;  // a fork's inherited relay: re-armed

    g_previous = current;
    struct sigaction action = current;  // the same mask and flags as the handler it wraps
    action.sa_flags |= SA_SIGINFO;
    action.sa_sigaction = &relay;
    if (sigaction(signum, &action, nullptr) != 0) return false;
    g_signum = signum;
    return true;
}

int wait_for_relayed_signal() {
    if (!g_armed) return 0;
    while (sem_wait(&g_arrived) != 0) {
        // EINTR: a signal handled in this thread; anything else cannot happen for a valid sem
    }
    return g_signum;
}

void die_of_signal_unless_spared(int signum, double seconds) {
    std::thread([signum, seconds] {
        std::unique_lock<std::mutex> hold(g_grace_mutex);
        const auto grace = std::chrono::duration<double>(seconds);
        if (!g_grace_ended.wait_for(hold, grace, [] { return g_spared.load(); })) {
            die_of_signal(signum);
        }
    }).detach();
}

void spare_from_signal() {
    g_spared.store(true);
    std::lock_guard<std::mutex> hold(g_grace_mutex);
    g_grace_ended.notify_all();
}

void die_of_signal(int signum) {
    signal(signum, SIG_DFL);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, signum);
    pthread_sigmask(SIG_UNBLOCK, &only, nullptr);
    raise(signum);
    for (;;) pause();  // a signal whose default action does not end the process: wait
}

}  // namespace memslim::engine
