// signal_relay.h — tells a waiting thread that a signal came, besides running its handler.
//
// Python runs a signal's handler in the main thread, between bytecodes: the C-level handler
// only sets a flag. A main thread that has entered a call that does not return on a signal
// (or entered a blocking call just after the signal came: multiprocessing's SemLock checks for
// signals, then calls sem_wait, and a SIGTERM in between is seen by nobody) never runs it. A
// Pool worker told to terminate then never ends, and the pool's join hangs. memslim's child
// processes relay SIGTERM: the handler installed (Python's) still runs, and a thread of
// memslim's own, waiting in wait_for_relayed_signal(), wakes, writes the child's capture and
// ends the process as the signal's default action would have.
//
// One signal is relayed per process. Everything done in the signal handler is async-signal-safe
// (getpid, sem_post, the previous handler). A process forked from the one that installed the
// relay inherits the handler but not the waiting thread: there the relay only runs the
// previous handler, until relay_signal() is called again in the fork.
#pragma once

namespace memslim::engine {

// Installs the relay in front of `signum`'s current handler. False (nothing installed) when the
// signal has no handler (SIG_DFL, SIG_IGN), when another signal is relayed already, or when
// sigaction fails. Called again in a fork, it re-arms the relay for the fork's own waiting
// thread (not while a thread of the same process waits).
bool relay_signal(int signum);

// Blocks until the relayed signal comes to this process (at once if it came already since the
// last wait), and returns its number; 0 at once when no relay is armed. Interrupted calls are
// retried.
int wait_for_relayed_signal();

// Ends the process by `signum`, as its default action would (the handler is reset to SIG_DFL,
// the signal is unblocked in the calling thread and raised there). Never returns.
[[noreturn]] void die_of_signal(int signum);

// After the relayed signal came: ends the process by `signum` (die_of_signal, from a thread of
// its own) unless spare_from_signal() is called within `seconds`. The waiting thread needs the
// GIL to write the child's capture, and a main thread in one long C call that holds it (a
// Pool worker in `sum()` over a large range) kept it for as long as the call ran: the signal,
// which ends such a process at once without memslim, ended it seconds or minutes later.
void die_of_signal_unless_spared(int signum, double seconds);

// memslim's code runs in the process after the relayed signal (it has the GIL): no death from
// die_of_signal_unless_spared.
void spare_from_signal();

}  // namespace memslim::engine
