// Entry point of test_gpu: without a usable CUDA device it prints one line and exits with 77,
// which ctest (SKIP_RETURN_CODE 77) reports as skipped, not passed.
#define CATCH_CONFIG_RUNNER
#include <cuda_runtime_api.h>

#include <catch2/catch.hpp>
#include <cstdio>

namespace {
constexpr int kSkipExitCode = 77;
}

int main(int argc, char** argv) {
  int devices = 0;
  const cudaError_t status = cudaGetDeviceCount(&devices);
  if (status != cudaSuccess || devices == 0) {
    std::printf("SKIPPED: no CUDA device (%s)\n",
                status != cudaSuccess ? cudaGetErrorString(status) : "0 devices");
    return kSkipExitCode;
  }
  return Catch::Session().run(argc, argv);
}
