// The one closeness rule of the tests, and its one report of the worst element:
//   |actual − expected| ≤ atol + rtol·|expected|, element by element,
//   atol = max(atol_fraction · max|expected| over the tensor, atol_floor).
// The fraction scales the absolute slack to the tensor (bf16 rounding is relative to the values
// that were summed, not to each result, which can cancel to nearly zero); the floor covers
// tensors whose true value is zero (a key bias cannot change the softmax, so its gradient is
// rounding noise). A fixed atol is Tolerance{rtol, 0, atol}.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace bert::test {

struct Tolerance {
  double rtol = 0;
  double atol_fraction = 0;  // of the largest |expected| of the tensor
  double atol_floor = 0;
  // The absolute part for a tensor whose reference values are `expected`.
  double atol(const std::vector<double>& expected) const;
};

// What a comparison found: ok, or the element that exceeds its tolerance by the most (NaN
// counts as exceeding by infinity).
struct CloseReport {
  bool ok = true;
  size_t count = 0;
  size_t worst_index = 0;
  double worst_value = 0, worst_ref = 0, worst_excess = 0;  // excess = |x-ref| - tolerance
  std::string describe(const std::string& name) const;  // one line for the failure message
};

// The rule with the tolerance of each tensor.
CloseReport within(const std::vector<double>& actual, const std::vector<double>& expected,
                   const Tolerance& tolerance);
CloseReport within(const std::vector<float>& actual, const std::vector<float>& expected,
                   const Tolerance& tolerance);

// The rule with the absolute part given: one atol for every element, or one per element
// (compare_close_each: e.g. Adam's first moment, whose rounding scales with terms that cancel).
CloseReport compare_close(const double* x, const double* ref, size_t n, double atol, double rtol);
CloseReport compare_close(const std::vector<double>& x, const std::vector<double>& ref, double atol,
                          double rtol);
CloseReport compare_close(const std::vector<float>& x, const std::vector<double>& ref, double atol,
                          double rtol);
CloseReport compare_close_each(const std::vector<double>& x, const std::vector<double>& ref,
                               const std::vector<double>& atol, double rtol);

}  // namespace bert::test

// REQUIRE that two arrays are close, printing the worst element when they are not.
#define REQUIRE_CLOSE(name, report)            \
  do {                                         \
    const auto& bert_report_ = (report);       \
    INFO(bert_report_.describe(name));         \
    REQUIRE(bert_report_.ok);                  \
  } while (0)
