// The two-stream overlap probe of bench_kernels (benchmarks/overlap_probe.h).
#include "benchmarks/overlap_probe.h"

#include "engine/cuda/cuda_backend_base.h"  // CudaStream
#include "engine/cuda/pinned_host.h"        // CudaEvent

namespace bert::bench {

OverlapTimes time_overlap(const TimeLaunches& time, GpuStream main, const std::function<void(GpuStream)>& first,
                          const std::function<void(GpuStream)>& second) {
  CudaStream side;
  CudaEvent fork, join;
  OverlapTimes times;
  times.first = time([&] { first(main); });
  times.second = time([&] { second(main); });
  times.together = time([&] {
    // second starts on the side stream when main reaches this point, first runs on main
    // meanwhile, and main waits for second before the timer's stop event.
    fork.record(main);
    fork.wait_device(side.get());
    second(side.get());
    first(main);
    join.record(side.get());
    join.wait_device(main);
  });
  CudaStream high(StreamPriority::kBelowHighest), low(StreamPriority::kLowest);
  CudaEvent high_done;
  times.prioritized = time([&] {
    fork.record(main);
    fork.wait_device(low.get());
    fork.wait_device(high.get());
    second(low.get());
    first(high.get());
    join.record(low.get());
    join.wait_device(main);
    high_done.record(high.get());
    high_done.wait_device(main);
  });
  return times;
}

}  // namespace bert::bench
