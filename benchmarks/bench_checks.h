// bench_kernels times a kernel only after the op that runs it passed its check: every case of
// the op table (tests/ops/op_cases.h) on the CUDA backend against the CPU backend, with the
// CUDA runner's tolerances (tests/ops/op_runner.h), in the compute mode that is timed. The
// table's device sizes hold bert-base's widths (hidden 768, the qkv 2304 and FFN 3072 GEMMs) on
// a few rows, not the timed batch's token count: the kernels' paths, not their long runs.
#pragma once

#include <map>
#include <string>

namespace bert::bench {

class OpChecks {
 public:
  // Runs the table's device-size cases on a new CUDA backend (bf16 activations, or fp32 with
  // `fp32`) and on the float CPU backend; prints each failing tensor to stderr.
  static OpChecks run(bool fp32);
  // Whether every case of the table op `op` passed; false for an op the table does not hold.
  bool passed(const std::string& op) const;
  int cases() const { return cases_; }
  int failed_cases() const { return failed_cases_; }

 private:
  std::map<std::string, bool> passed_;  // table op -> all its cases passed
  int cases_ = 0, failed_cases_ = 0;
};

}  // namespace bert::bench
