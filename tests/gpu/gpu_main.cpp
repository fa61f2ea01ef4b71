// Entry point of the GPU test binaries: without a usable CUDA device it prints one line and
// exits with 77, which ctest (SKIP_RETURN_CODE 77) reports as skipped, not passed; so does a run
// whose golden was missing from the default ../shared (shared_data.h).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "kernels/cuda_device_probe.h"
#include "tests/shared_data.h"
#include "tests/test_support.h"

static_assert(bert::kSkipExitCode == bert::test::kSkipExitCode, "ctest's SKIP_RETURN_CODE is one number");

int main(int argc, char** argv) {
  if (bert::report_missing_cuda_device()) return bert::kSkipExitCode;
  return bert::test::shared_data_exit_code(bert::test::finish_test_run(Catch::Session().run(argc, argv)));
}
