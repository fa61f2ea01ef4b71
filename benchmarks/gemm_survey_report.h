// The report of bench_kernels' survey of cuBLASLt's algorithms (benchmarks/gemm_algorithm_survey.h):
// its rows, a Markdown table with a "fastest" summary per GEMM, and a JSON array. Host code, so
// the CPU tests check it (tests/benchmarks/test_gemm_survey_report.cpp).
#pragma once

#include <string>
#include <vector>

namespace bert::bench {

struct GemmSurveyRow {
  std::string batch, gemm, role, candidate;  // candidate: "#2" or "#0 split-K 4"
  std::string algorithm;                      // MatmulContext::last_algorithm's configuration
  std::string problem;                        // why it is not timed: unavailable, failed or differs
  bool wrong = false;                         // its output differed from rank 0's
  double median_us = 0, min_us = 0, flops = 0;
  double first_us = 0;  // rank 0's median of the same GEMM (the speed-up's base)
};

// Timed: no problem and not wrong.
bool gemm_survey_timed(const GemmSurveyRow& row);

// Every row (timed ones with µs, TFLOP/s, speed-up over #0 and the algorithm; the others WRONG or
// n/a with the reason), then per (batch, gemm, role) in first-seen order the fastest timed
// candidate against #0 and the µs it saves.
std::string gemm_survey_markdown(const std::vector<GemmSurveyRow>& rows);
// The rows as a JSON array; times not taken are null.
std::string gemm_survey_json(const std::vector<GemmSurveyRow>& rows);

}  // namespace bert::bench
