// The top of every app's main(): runs the app and turns exceptions into one "error: ..."
// line on stderr and an exit status (2 for a bad command line, 1 for any other error).
#pragma once

namespace bert {

using AppRun = int (*)(int argc, char** argv);

// Calls run(argc, argv); FlagError → 2, BertError and other std::exceptions → 1; the error line
// names the rank under a launcher (launcher_rank_prefix).
// Apps with more exit statuses catch their own exceptions inside run.
int run_app(AppRun run, int argc, char** argv);

}  // namespace bert
