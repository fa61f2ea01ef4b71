#include "apps/app_main.h"

#include <cstdio>
#include <exception>

#include "apps/flags.h"

namespace bert {

int run_app(AppRun run, int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const FlagError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

}  // namespace bert
