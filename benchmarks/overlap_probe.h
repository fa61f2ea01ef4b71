// Can one piece of a training step hide behind another on a second stream? bench_kernels'
// answer for the lever it would decide (issue 13): AdamW over all parameters (memory-bound,
// 1.1 ms per step measured on an H100, about 0.8 ms projected from an H200's bandwidth) run
// beside the next step's forward GEMMs (compute-bound) instead of before them. Both on the same
// stream, one after the other, is the baseline; the probe times each alone and both together,
// `second` on its own stream forked from and joined back into `main` with events, so the
// timer's events on `main` span both; then both together as the CUDA backend arranges them
// (BERT_ADAMW_BESIDE_FORWARD): `first` on a stream one level under the highest priority,
// `second` on one at the lowest (engine/cuda/cuda_backend_base.h StreamPriority), both forked
// from and joined into `main`.
#pragma once

#include <functional>
#include <utility>

#include "benchmarks/gemm_algorithm_survey.h"  // TimeLaunches
#include "kernels/gpu_types.h"

namespace bert::bench {

struct OverlapTimes {
  std::pair<double, double> first, second, together, prioritized;  // median and minimum µs of each
};

// first(stream) and second(stream) queue their work on the stream given.
OverlapTimes time_overlap(const TimeLaunches& time, GpuStream main,
                          const std::function<void(GpuStream)>& first,
                          const std::function<void(GpuStream)>& second);

}  // namespace bert::bench
