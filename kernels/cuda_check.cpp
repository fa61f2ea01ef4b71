// Error formatting for the CUDA checking macros (kernels/cuda_check.h).
#include "kernels/cuda_check.h"

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace bert {

void throw_cuda_error(int code, const char* call, const char* file, int line) {
  const cudaError_t error = static_cast<cudaError_t>(code);
  throw_check_failure(call, file, line,
                      std::string(cudaGetErrorName(error)) + ": " + cudaGetErrorString(error));
}

void throw_cublas_error(int status, const char* call, const char* file, int line) {
  const cublasStatus_t value = static_cast<cublasStatus_t>(status);
  throw_check_failure(
      call, file, line,
      std::string(cublasLtGetStatusName(value)) + ": " + cublasLtGetStatusString(value));
}

bool cuda_sync_after_launch() {
  static const bool enabled = [] {
    const char* value = std::getenv("BERT_CUDA_SYNC");
    return value != nullptr && std::strcmp(value, "1") == 0;
  }();
  return enabled;
}

void check_cuda_launch(const char* kernel, const char* file, int line) {
  const std::string call = std::string("launch of ") + kernel;
  const cudaError_t launch = cudaGetLastError();
  if (launch != cudaSuccess) throw_cuda_error(static_cast<int>(launch), call.c_str(), file, line);
  if (cuda_sync_after_launch()) {
    const cudaError_t run = cudaDeviceSynchronize();
    if (run != cudaSuccess) throw_cuda_error(static_cast<int>(run), call.c_str(), file, line);
  }
}

}  // namespace bert
