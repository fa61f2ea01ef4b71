#include "apps/app_main.h"

#include <csignal>
#include <cstdio>
#include <exception>
#include <new>

#include "apps/flags.h"
#include "core/launcher.h"

namespace bert {

int run_app(AppRun run, int argc, char** argv) {
  // Past a file-size limit (ulimit -f) a write must fail with EFBIG, so the error is reported
  // and the temporary removed, instead of SIGXFSZ killing the process mid-save.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    return run(argc, argv);
  } catch (const FlagError& e) {
    std::fprintf(stderr, "%serror: %s\n", launcher_rank_prefix().c_str(), e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(
        stderr,
        "%serror: out of memory: a buffer could not be allocated (use a smaller model, batch or "
        "max_seq_length)\n",
        launcher_rank_prefix().c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%serror: %s\n", launcher_rank_prefix().c_str(), e.what());
    return 1;
  }
}

}  // namespace bert
