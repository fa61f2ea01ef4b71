// Entry point of the test binaries that read ../shared: runs the Catch session, then exits 77
// (ctest SKIP_RETURN_CODE: reported as skipped, not passed) when nothing failed but a test
// returned early because a file of the default shared directory is missing.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "tests/shared_data.h"
#include "tests/test_support.h"

int main(int argc, char** argv) {
  return bert::test::shared_data_exit_code(bert::test::finish_test_run(Catch::Session().run(argc, argv)));
}
