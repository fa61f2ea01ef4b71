// SIGINT / SIGTERM handling; see signals.h.
#include "engine/signals.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "core/launcher.h"

namespace bert {
namespace {

// std::atomic<int> is lock-free on every platform we build for (checked below), which is
// what makes it usable from a signal handler; volatile sig_atomic_t would not be visible to
// the other threads (the batch prefetcher) with defined behaviour.
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the stop flag must be lock-free");

void write_stderr(const char* text) {
  // write(2) is async-signal-safe; a failed write is not worth handling here.
  ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

// What the handler writes, made before any signal (formatting is not async-signal-safe); under
// a launcher of several ranks it names this one, whose line may come after rank 0's last.
// [phase][0: SIGINT, 1: SIGTERM]; phase 0 while training, 1 during the final save.
char g_messages[2][2][192];
std::atomic<int> g_phase{0};
static_assert(std::atomic<int>::is_always_lock_free, "the phase must be lock-free");

void make_messages() {
  const std::string rank = launcher_rank_prefix();
  const char* const kRest[2] = {
      " received: finishing the current step, then saving a checkpoint (send it again to "
      "stop at once)\n",
      " received: finishing the final save, then stopping before the evaluation (send it "
      "again to stop at once)\n"};
  for (int phase = 0; phase < 2; ++phase) {
    std::snprintf(g_messages[phase][0], sizeof g_messages[phase][0], "\n%s[train] SIGINT%s",
                  rank.c_str(), kRest[phase]);
    std::snprintf(g_messages[phase][1], sizeof g_messages[phase][1], "\n%s[train] SIGTERM%s",
                  rank.c_str(), kRest[phase]);
  }
}

extern "C" void on_stop_signal(int signal_number) {
  int expected = 0;
  if (g_stop_signal.compare_exchange_strong(expected, signal_number)) {
    write_stderr(g_messages[g_phase.load()][signal_number == SIGINT ? 0 : 1]);
    return;
  }
  // Second signal: stop now with the default action (terminate). Checkpoints under their
  // final names are complete; a temporary directory may be left and is removed next run.
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  sigaction(signal_number, &action, nullptr);
  raise(signal_number);
}

void set_handler(int signal_number, void (*handler)(int)) {
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // blocking reads/writes resume instead of failing with EINTR
  sigaction(signal_number, &action, nullptr);
}

}  // namespace

void install_stop_signal_handlers() {
  g_stop_signal.store(0);
  g_phase.store(0);
  make_messages();
  set_handler(SIGINT, on_stop_signal);
  set_handler(SIGTERM, on_stop_signal);
}

void restore_default_signal_handlers() {
  set_handler(SIGINT, SIG_DFL);
  set_handler(SIGTERM, SIG_DFL);
}

void announce_final_save() { g_phase.store(1); }

int stop_signal() { return g_stop_signal.load(); }
bool stop_requested() { return g_stop_signal.load() != 0; }
void clear_stop_request() { g_stop_signal.store(0); }

const char* signal_name(int signal_number) {
  switch (signal_number) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "a signal";
  }
}

int exit_status_for_signal(int signal_number) { return 128 + signal_number; }

}  // namespace bert
