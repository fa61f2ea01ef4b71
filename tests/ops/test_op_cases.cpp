// The op table on the CPU (tests/ops/op_cases.h), at its small sizes: every case with a backward
// has it checked on the cpu-double backend against central differences of its forward in double,
// and every case runs on the float CPU backend against cpu-double.
#include <catch2/catch.hpp>

#include "tests/ops/op_cases.h"
#include "tests/ops/op_runner.h"

namespace bert::test {
namespace {

// Float against double on the same float inputs: about 1e-6 relative for these sizes; the
// absolute part, 1e-5 of the tensor's largest value, covers sums that cancel (LayerNorm's d_inp,
// attention's d_qkv).
const Tolerance kFloatTolerance{1e-5, 1e-5, 1e-7};

void require_checks(const std::string& case_name, const std::vector<TensorCheck>& checks) {
  for (const TensorCheck& check : checks) REQUIRE_CLOSE(case_name + ": " + check.tensor, check.report);
}

}  // namespace

TEST_CASE("op table: every op, shape and mode is in the table", "[ops]") {
  // The table holds each Backend op; a case list that came out empty would check nothing.
  REQUIRE(op_table().size() == 7);
  for (const OpEntry& entry : op_table()) {
    CAPTURE(entry.op);
    REQUIRE_FALSE(entry.cases(OpSize::kCheck).empty());
    REQUIRE_FALSE(entry.cases(OpSize::kDevice).empty());
  }
}

TEST_CASE("op table: cpu-double backward against central differences of its forward", "[ops]") {
  auto backend = make_cpu_backend(true);
  size_t checked = 0;
  for (const OpCase& op : all_op_cases(OpSize::kCheck)) {
    if (!op.has_gradients()) continue;
    CAPTURE(op.name());
    const std::vector<TensorCheck> checks = check_finite_differences(*backend, op, 101);
    REQUIRE_FALSE(checks.empty());
    require_checks(op.name(), checks);
    checked += checks.size();
  }
  REQUIRE(checked > 0);
}

TEST_CASE("op table: float CPU backend against cpu-double", "[ops]") {
  auto single = make_cpu_backend(false);
  auto reference = make_cpu_backend(true);
  for (const OpCase& op : all_op_cases(OpSize::kCheck)) {
    CAPTURE(op.name());
    const std::vector<TensorCheck> checks =
        check_against(*single, *reference, op, 202, [](const TensorSpec&) { return kFloatTolerance; });
    REQUIRE_FALSE(checks.empty());
    require_checks(op.name(), checks);
  }
}

}  // namespace bert::test
