// The top of every app's main(): runs the app and turns exceptions into one "error: ..."
// line on stderr and an exit status (2 for a bad command line, 1 for any other error).
#pragma once

#include <string>

namespace bert {

using AppRun = int (*)(int argc, char** argv);

// Under a launcher of several processes, "rank R: " for the start of an error line, as the
// communicator's own messages name the rank (mpirun prints every rank's lines mixed); "" else.
std::string rank_prefix();

// Calls run(argc, argv); FlagError → 2, BertError and other std::exceptions → 1.
// Apps with more exit statuses catch their own exceptions inside run.
int run_app(AppRun run, int argc, char** argv);

}  // namespace bert
