// Graceful stop on SIGINT / SIGTERM for long training runs.
//
// The first SIGINT or SIGTERM only records the signal number in a lock-free flag (all a
// signal handler may safely do, besides write(2)); the trainer polls it after every optimizer
// step, saves a checkpoint and returns, and the app exits with 128 + the signal number (130
// for SIGINT, 143 for SIGTERM, the shell's convention). A second signal while that is under
// way restores the default action and re-raises it, so a user who presses Ctrl-C twice gets
// an immediate exit; checkpoints are written into a temporary directory and renamed into
// place (engine/training_state.h), so that cannot leave a half-written checkpoint behind.
#pragma once

namespace bert {

// Installs the handlers for SIGINT and SIGTERM (idempotent) and clears any earlier request.
void install_stop_signal_handlers();
// Restores the default actions (a later signal terminates the process at once).
void restore_default_signal_handlers();
// From now on a first signal is answered after the final save (the model and the run's
// records), not after a step: the line it writes says so.
void announce_final_save();

// 0 when no stop was requested, else the number of the first signal received.
int stop_signal();
bool stop_requested();
// Clears the request (tests; a new training phase).
void clear_stop_request();

// "SIGINT", "SIGTERM", or "a signal" for any other number.
const char* signal_name(int signal_number);
// The exit status for a run stopped by `signal_number`: 128 + signal_number.
int exit_status_for_signal(int signal_number);

}  // namespace bert
