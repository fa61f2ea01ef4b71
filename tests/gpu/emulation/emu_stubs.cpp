// Host stand-ins for the CUDA runtime pieces the emulated kernels and tests touch.
#include <cuda_runtime_api.h>
#include <string>
#include "kernels/cuda_check.h"
#include "tests/gpu/emulation/stream_emu.h"
extern "C" cudaError_t cudaDeviceSynchronize() {
  emu::run_all_deferred();
  return cudaSuccess;
}
namespace bert {
void throw_cuda_error(int code, const char* call, const char* file, int line) { throw_check_failure(call, file, line, "cuda error " + std::to_string(code)); }
void throw_cublas_error(int code, const char* call, const char* file, int line) { throw_check_failure(call, file, line, "cublas error " + std::to_string(code)); }
void check_cuda_launch(const char*, const char*, int) {}
bool cuda_sync_after_launch() { return false; }
}
