// The cuBLASLt algorithm survey of bench_kernels (benchmarks/gemm_algorithm_survey.h).
#include <cuda_runtime.h>

#include <cstdio>
#include <tuple>

#include "benchmarks/device_values.h"
#include "benchmarks/gemm_algorithm_survey.h"
#include "kernels/cuda_check.h"
#include "kernels/device_buffer.h"
#include "tests/tolerance.h"

namespace bert::bench {
namespace {

constexpr GemmRole kRoles[] = {GemmRole::kForward, GemmRole::kInputGrad, GemmRole::kWeightGrad};
constexpr int kForcedSplits[] = {2, 4, 8};

// The outputs of the three GEMMs: bf16 activations, fp32 weight gradient.
struct Outputs {
  DeviceBuffer<bf16> out, d_inp;
  DeviceBuffer<float> d_weight;

  // f(the buffer `role` writes).
  template <typename F>
  auto of(GemmRole role, F&& f) {
    if (role == GemmRole::kForward) return f(out);
    if (role == GemmRole::kInputGrad) return f(d_inp);
    return f(d_weight);
  }
  // All bytes 0xFF (NaN in bf16 and fp32): a candidate that leaves an element of `role`'s output
  // unwritten fails the comparison instead of passing on its predecessor's result.
  void poison(GemmRole role, GpuStream stream) {
    of(role, [&](auto& buffer) { CUDA_CHECK(cudaMemsetAsync(buffer.data(), 0xFF, buffer.bytes(), stream)); });
  }
  std::vector<float> values(GemmRole role) {
    return of(role, [](const auto& buffer) { return download_floats(buffer); });
  }
};

void launch(MatmulContext& context, GemmRole role, const LinearOperands& o, Outputs& outputs,
            GpuStream stream) {
  switch (role) {
    case GemmRole::kForward:
      matmul_forward_cuda(context, outputs.out.data(), o.inp, o.weight, o.bias, o.rows, o.in, o.out, stream);
      return;
    case GemmRole::kInputGrad:
      matmul_input_grad_cuda(context, outputs.d_inp.data(), o.d_out, o.weight, o.rows, o.in, o.out,
                             Accumulate::kOverwrite, stream);
      return;
    case GemmRole::kWeightGrad:
      matmul_weight_grad_cuda(context, outputs.d_weight.data(), o.d_out, o.inp, o.rows, o.in, o.out,
                              Accumulate::kOverwrite, stream);
      return;
  }
}

// Algorithms differ only in the order of the fp32 sums: within 1e-4 of the largest value for the
// fp32 weight gradient, and within 1% for bf16 outputs (one bf16 rounding step is 0.4%).
test::Tolerance tolerance_of(GemmRole role) {
  return role == GemmRole::kWeightGrad ? test::Tolerance{0, 1e-4, 0} : test::Tolerance{0, 1e-2, 0};
}

// Runs, checks and times one candidate of `role` into `row`; false when it does not exist. A
// candidate that exists but fails (cuBLASLt's check does not promise that an algorithm runs)
// is reported in row.problem.
bool try_candidate(MatmulContext& context, const TimeLaunches& time, GemmRole role, GemmAlgorithmChoice choice,
                   const LinearOperands& o, Outputs& outputs, std::vector<float>& first_output,
                   GemmSurveyRow& row, GpuStream stream) {
  context.choose_algorithm(role, choice);
  try {
    outputs.poison(role, stream);
    launch(context, role, o, outputs, stream);
    CUDA_CHECK(cudaStreamSynchronize(stream));
  } catch (const GemmAlgorithmUnavailable& unavailable) {
    row.problem = unavailable.what();
    return false;
  } catch (const std::exception& failed) {
    row.problem = std::string("failed: ") + failed.what();
    return true;
  }
  row.algorithm = context.last_algorithm(role);
  std::vector<float> output = outputs.values(role);
  if (choice.rank == 0 && choice.split_k == 0) {
    first_output = std::move(output);
  } else {
    const test::CloseReport report = test::within(output, first_output, tolerance_of(role));
    if (!report.ok) {
      row.wrong = true;
      row.problem = "differs from #0: " + report.describe(gemm_role_name(role));
      return true;
    }
  }
  try {
    std::tie(row.median_us, row.min_us) = time([&] { launch(context, role, o, outputs, stream); });
  } catch (const std::exception& failed) {
    row.problem = std::string("failed while timed: ") + failed.what();
  }
  return true;
}

std::string candidate_name(GemmAlgorithmChoice choice) {
  std::string name = "#" + std::to_string(choice.rank);
  if (choice.split_k > 0) name += " split-K " + std::to_string(choice.split_k);
  return name;
}

}  // namespace

std::vector<GemmSurveyRow> survey_gemm_algorithms(MatmulContext& context, const TimeLaunches& time,
                                                  const std::string& batch, const std::string& gemm,
                                                  const LinearOperands& o, int candidates, GpuStream stream) {
  Outputs outputs{DeviceBuffer<bf16>(size_t(o.rows) * o.out), DeviceBuffer<bf16>(size_t(o.rows) * o.in),
                  DeviceBuffer<float>(size_t(o.out) * o.in)};
  const double flops = 2.0 * o.rows * o.in * o.out;
  std::vector<GemmSurveyRow> rows;
  // Training's choice is restored however the survey ends.
  struct RestoreDefault {
    MatmulContext& context;
    ~RestoreDefault() {
      for (const GemmRole role : kRoles) context.choose_algorithm(role, GemmAlgorithmChoice{});
    }
  } restore{context};
  for (const GemmRole role : kRoles) {
    std::vector<GemmAlgorithmChoice> choices;
    for (int rank = 0; rank < candidates; ++rank) choices.push_back({rank, 0});
    for (const int split : kForcedSplits) choices.push_back({0, split});
    std::vector<float> first_output;
    double first_us = 0;
    bool ranks_exhausted = false;
    for (const GemmAlgorithmChoice choice : choices) {
      const bool first = choice.rank == 0 && choice.split_k == 0;
      if (ranks_exhausted && choice.split_k == 0) continue;
      GemmSurveyRow row{batch, gemm, gemm_role_name(role), candidate_name(choice)};
      row.flops = flops;
      const bool exists = try_candidate(context, time, role, choice, o, outputs, first_output, row, stream);
      if (!exists && choice.split_k == 0) {  // the heuristic offers no more ranks
        ranks_exhausted = true;
        continue;
      }
      if (first) first_us = row.median_us;
      row.first_us = first_us;
      rows.push_back(std::move(row));
      std::fprintf(stderr, "  %-8s %-24s %-8s %-14s %s\n", batch.c_str(), gemm.c_str(), gemm_role_name(role),
                   rows.back().candidate.c_str(),
                   rows.back().problem.empty() ? (std::to_string(rows.back().median_us) + " us").c_str()
                                               : rows.back().problem.c_str());
      if (first && !rows.back().problem.empty()) break;  // nothing to compare the others with
    }
  }
  return rows;
}

}  // namespace bert::bench
