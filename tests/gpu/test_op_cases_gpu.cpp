// The op table (tests/ops/op_cases.h) on the CUDA backend against the float CPU backend, at its
// device sizes, in both compute modes (bf16 activations; the fp32 switch): what forward writes,
// then what backward writes after the CPU took the CUDA forward's saved tensors, so the backward
// comparison sees one set of inputs. Tolerances: tests/ops/op_runner.h's gpu_tolerance. One
// section per op and mode (e.g. -c "attention (bf16)" runs one).
#include <catch2/catch.hpp>

#include "engine/cuda/cuda_backend.h"
#include "tests/ops/op_cases.h"
#include "tests/ops/op_runner.h"

namespace bert::test {

TEST_CASE("op table: the CUDA backend against the CPU backend", "[gpu][backend][ops]") {
  for (const bool fp32 : {false, true}) {
    for (const OpEntry& entry : op_table()) {
      DYNAMIC_SECTION(entry.op << (fp32 ? " (fp32)" : " (bf16)")) {
        auto cpu = make_cpu_backend(false);
        auto gpu = make_cuda_backend(CudaBackendOptions{fp32});
        const std::vector<OpCase> cases = entry.cases(OpSize::kDevice);
        REQUIRE_FALSE(cases.empty());
        for (const OpCase& op : cases) {
          CAPTURE(fp32, op.name());
          const std::vector<TensorCheck> checks = check_against(
              *gpu, *cpu, op, 303, [fp32](const TensorSpec& spec) { return gpu_tolerance(spec, fp32); });
          REQUIRE_FALSE(checks.empty());
          for (const TensorCheck& check : checks)
            REQUIRE_CLOSE(op.name() + ": " + check.tensor + (fp32 ? " (fp32)" : " (bf16)"), check.report);
        }
        gpu->synchronize();
      }
    }
  }
}

}  // namespace bert::test
