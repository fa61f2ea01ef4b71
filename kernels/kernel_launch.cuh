// How every kernel of kernels/ is launched: launch_kernel, and grid_dependency_sync() as the
// first statement of every kernel (tests/tools/check_kernel_launches.py checks both; the CPU
// emulation stops on a kernel whose threads do not all call it).
//
// Programmatic dependent launch (compute capability 9.0+): a kernel launched with
// cudaLaunchAttributeProgrammaticStreamSerialization may be scheduled while the kernel before
// it in the stream is still finishing, so its launch latency and block scheduling overlap that
// kernel's last wave instead of following it. grid_dependency_sync() is what keeps that
// correct: `griddepcontrol.wait` blocks the thread until the previous grid has completed and
// its memory is visible (so nothing a kernel reads or writes is touched before it), then
// `griddepcontrol.launch_dependents` lets the next kernel be scheduled once every block of this
// one has got that far. A kernel launched without the attribute, or one after a copy, a memset
// or an event wait, runs in plain stream order and the instructions return at once; so does
// every kernel on a card below 9.0, where the attribute has no effect. Results are the same
// bits either way: only the start of the next kernel moves, never the order of memory accesses.
//
// Off by default until measured (docs/device_runs.md): BERT_PROGRAMMATIC_LAUNCH=1 turns it on.
#pragma once

#include <cuda_runtime.h>

#include <utility>

#include "kernels/kernel_launch.h"

namespace bert {

// The first statement of every kernel: waits for the previous kernel of the stream (memory
// visible), then lets the next one be scheduled. No-op below sm_90 and without the launch
// attribute.
__device__ __forceinline__ void grid_dependency_sync() {
#if defined(BERT_CUDA_EMULATION)
  ::emu::note_grid_dependency_sync();
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

// kernel<<<grid, block, shared_bytes, stream>>>(args...), with programmatic dependent launch
// when programmatic_launch_enabled(). A failed launch is left in cudaGetLastError() for the
// CUDA_LAUNCH_CHECK that follows every launch, as after <<<>>>.
template <typename... Params, typename... Args>
void launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes,
                   cudaStream_t stream, Args&&... args) {
#if defined(BERT_CUDA_EMULATION)
  ::emu::launch(kernel, grid, block, shared_bytes, stream)(std::forward<Args>(args)...);
#else
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = programmatic_launch_enabled() ? 1 : 0;
  (void)cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
#endif
}

}  // namespace bert
