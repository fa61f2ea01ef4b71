// Does cuBLASLt's heuristic pick the fastest algorithm for our GEMMs? (issue 13's lever "the
// algorithm chosen per shape by measurement": this is the measuring half.) For one linear layer
// at one token count, and for each of its three GEMMs (fwd, d_inp, d_weight: kernels/matmul.h's
// GemmRole), bench_kernels times
//   - the heuristic's first `candidates` algorithms (rank 0 is what training runs), and
//   - rank 0 with its split-K factor forced to 2, 4 and 8 (the d_weight GEMMs of the 768-wide
//     layers have fewer output tiles than the GPU has SMs; split-K is the classic remedy),
// each only after its output, on the same inputs, matched rank 0's (a candidate that differs is
// reported WRONG and not timed). The choice is reset to the heuristic's first afterwards.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "benchmarks/gemm_survey_report.h"
#include "kernels/gpu_types.h"
#include "kernels/matmul.h"

namespace bert::bench {

// One linear layer's inputs on the device (the forward's inp/weight/bias, the backward's d_out).
struct LinearOperands {
  const bf16* inp;     // [rows, in]
  const bf16* weight;  // [out, in]
  const bf16* bias;    // [out] or null (the forward's bias epilogue, as training runs it)
  const bf16* d_out;   // [rows, out]
  int rows, in, out;
};

// Median and minimum in µs of repeated launches (bench::Timer::time).
using TimeLaunches = std::function<std::pair<double, double>(const std::function<void()>&)>;

std::vector<GemmSurveyRow> survey_gemm_algorithms(MatmulContext& context, const TimeLaunches& time,
                                                  const std::string& batch, const std::string& gemm,
                                                  const LinearOperands& operands, int candidates,
                                                  GpuStream stream);

}  // namespace bert::bench
