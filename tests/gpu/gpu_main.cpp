// Entry point of test_gpu: without a usable CUDA device it prints one line and exits with 77,
// which ctest (SKIP_RETURN_CODE 77) reports as skipped, not passed.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "kernels/cuda_device_probe.h"

int main(int argc, char** argv) {
  if (bert::report_missing_cuda_device()) return bert::kSkipExitCode;
  return Catch::Session().run(argc, argv);
}
