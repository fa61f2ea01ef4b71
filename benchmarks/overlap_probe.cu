// The two-stream overlap probe of bench_kernels (benchmarks/overlap_probe.h).
#include <cuda_runtime.h>

#include "benchmarks/overlap_probe.h"
#include "kernels/cuda_check.h"

namespace bert::bench {
namespace {

// RAII for the probe's second stream and its fork/join events.
struct SideStream {
  cudaStream_t stream = nullptr;
  cudaEvent_t fork = nullptr, join = nullptr;
  SideStream() {
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreateWithFlags(&fork, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&join, cudaEventDisableTiming));
  }
  ~SideStream() {
    cudaEventDestroy(join);
    cudaEventDestroy(fork);
    cudaStreamDestroy(stream);
  }
  SideStream(const SideStream&) = delete;
  SideStream& operator=(const SideStream&) = delete;
};

}  // namespace

OverlapTimes time_overlap(const TimeLaunches& time, GpuStream main, const std::function<void(GpuStream)>& first,
                          const std::function<void(GpuStream)>& second) {
  SideStream side;
  cudaStream_t main_stream = static_cast<cudaStream_t>(main);
  OverlapTimes times;
  times.first = time([&] { first(main); });
  times.second = time([&] { second(main); });
  times.together = time([&] {
    // second starts on the side stream when main reaches this point, first runs on main
    // meanwhile, and main waits for second before the timer's stop event.
    CUDA_CHECK(cudaEventRecord(side.fork, main_stream));
    CUDA_CHECK(cudaStreamWaitEvent(side.stream, side.fork, 0));
    second(side.stream);
    first(main);
    CUDA_CHECK(cudaEventRecord(side.join, side.stream));
    CUDA_CHECK(cudaStreamWaitEvent(main_stream, side.join, 0));
  });
  return times;
}

}  // namespace bert::bench
