// One checking helper (core/error.h's throw_check_failure) behind CUDA_CHECK / CUBLAS_CHECK here
// and NCCL_CHECK / MPI_CHECK in comm/: a failed call throws
// bert::BertError("<call> failed at <file>:<line>: <error name>: <error string>").
// CUDA_LAUNCH_CHECK(name) follows every kernel launch; with BERT_CUDA_SYNC=1 in the environment
// it also synchronises the device, so an asynchronous fault is reported at the kernel that caused
// it.
#pragma once

#include <cuda_runtime_api.h>

#include "core/error.h"

namespace bert {

[[noreturn]] void throw_cuda_error(int code, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(int status, const char* call, const char* file, int line);
// Checks cudaGetLastError() after a launch; synchronises first when BERT_CUDA_SYNC=1.
void check_cuda_launch(const char* kernel, const char* file, int line);
// True when BERT_CUDA_SYNC=1 (read once).
bool cuda_sync_after_launch();

}  // namespace bert

#define CUDA_CHECK(call)                                                                        \
  do {                                                                                          \
    const cudaError_t bert_cuda_status_ = (call);                                               \
    if (bert_cuda_status_ != cudaSuccess)                                                       \
      ::bert::throw_cuda_error(static_cast<int>(bert_cuda_status_), #call, __FILE__, __LINE__); \
  } while (0)

// Needs cublasLt.h (or cublas_api.h) at the point of use, for cublasStatus_t.
#define CUBLAS_CHECK(call)                                                               \
  do {                                                                                   \
    const cublasStatus_t bert_cublas_status_ = (call);                                   \
    if (bert_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                    \
      ::bert::throw_cublas_error(static_cast<int>(bert_cublas_status_), #call, __FILE__, \
                                 __LINE__);                                              \
  } while (0)

#define CUDA_LAUNCH_CHECK(kernel_name) ::bert::check_cuda_launch((kernel_name), __FILE__, __LINE__)
