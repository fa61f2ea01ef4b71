// The op table's CUDA-vs-CPU check for bench_kernels (benchmarks/bench_checks.h).
#include "benchmarks/bench_checks.h"

#include <cstdio>
#include <exception>

#include "engine/cuda/cuda_backend.h"
#include "tests/ops/op_cases.h"
#include "tests/ops/op_runner.h"

namespace bert::bench {

OpChecks OpChecks::run(bool fp32) {
  using namespace bert::test;
  OpChecks checks;
  auto cpu = make_cpu_backend(false);
  auto gpu = make_cuda_backend(CudaBackendOptions{fp32});
  for (const OpEntry& entry : op_table()) {
    bool all_passed = true;
    for (const OpCase& op : entry.cases(OpSize::kDevice)) {
      ++checks.cases_;
      bool ok = false;
      try {
        const std::vector<TensorCheck> result = check_against(
            *gpu, *cpu, op, 303, [fp32](const TensorSpec& spec) { return gpu_tolerance(spec, fp32); });
        ok = !result.empty() && all_ok(result);
        if (!ok) std::fprintf(stderr, "[check] WRONG %s", describe_failures(op.name(), result).c_str());
      } catch (const std::exception& error) {  // a refused shape is a failed check, not a crash
        std::fprintf(stderr, "[check] WRONG %s: %s\n", op.name().c_str(), error.what());
      }
      if (!ok) ++checks.failed_cases_;
      all_passed = all_passed && ok;
    }
    checks.passed_[entry.op] = all_passed;
  }
  gpu->synchronize();
  return checks;
}

bool OpChecks::passed(const std::string& op) const {
  const auto found = passed_.find(op);
  return found != passed_.end() && found->second;
}

}  // namespace bert::bench
