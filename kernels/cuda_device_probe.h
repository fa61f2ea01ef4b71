// The first lines of every GPU test and benchmark main(): without a usable CUDA device they print
// one "SKIPPED: no CUDA device (why)" line and exit with kSkipExitCode, which ctest
// (SKIP_RETURN_CODE 77) and tools/device/run_checks.sh report as skipped, not passed.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdio>

namespace bert {

constexpr int kSkipExitCode = 77;

// True, after printing the SKIPPED line, when no CUDA device can be used.
inline bool report_missing_cuda_device() {
  int devices = 0;
  const cudaError_t status = cudaGetDeviceCount(&devices);
  if (status == cudaSuccess && devices > 0) return false;
  std::printf("SKIPPED: no CUDA device (%s)\n", status != cudaSuccess ? cudaGetErrorString(status) : "0 devices");
  return true;
}

}  // namespace bert
