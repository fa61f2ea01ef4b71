#include "apps/app_main.h"

#include <csignal>
#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "apps/flags.h"
#include "core/launcher.h"

namespace bert {

std::string rank_prefix() {
  try {
    const int rank = launcher_rank();
    // -1: a PMIx launcher that gives no size, so possibly several ranks.
    const int size = launcher_world_size();
    return (size > 1 || size < 0) && rank >= 0 ? "rank " + std::to_string(rank) + ": " : "";
  } catch (const std::exception&) {
    return "";  // a malformed variable is reported where it is used
  }
}

int run_app(AppRun run, int argc, char** argv) {
  // Past a file-size limit (ulimit -f) a write must fail with EFBIG, so the error is reported
  // and the temporary removed, instead of SIGXFSZ killing the process mid-save.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    return run(argc, argv);
  } catch (const FlagError& e) {
    std::fprintf(stderr, "%serror: %s\n", rank_prefix().c_str(), e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(
        stderr,
        "%serror: out of memory: a buffer could not be allocated (use a smaller model, batch or "
        "max_seq_length)\n",
        rank_prefix().c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%serror: %s\n", rank_prefix().c_str(), e.what());
    return 1;
  }
}

}  // namespace bert
