// The tests' closeness rule (tests/tolerance.h).
#include "tests/tolerance.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace bert::test {

double Tolerance::atol(const std::vector<double>& expected) const {
  double largest = 0;
  for (double value : expected) largest = std::max(largest, std::fabs(value));
  return std::max(atol_fraction * largest, atol_floor);
}

std::string CloseReport::describe(const std::string& name) const {
  std::ostringstream out;
  out.precision(10);
  if (ok) {
    out << name << ": " << count << " values close";
  } else {
    out << name << ": worst element [" << worst_index << "] = " << worst_value << " vs reference "
        << worst_ref << " (exceeds tolerance by " << worst_excess << ") of " << count;
  }
  return out.str();
}

namespace {

// The rule itself: element i may differ by atol_of(i) + rtol·|ref[i]|.
template <typename AtolOf>
CloseReport compare(const double* x, const double* ref, size_t n, double rtol, const AtolOf& atol_of) {
  CloseReport report;
  report.count = n;
  double worst = -INFINITY;
  for (size_t i = 0; i < n; ++i) {
    const double excess = std::fabs(x[i] - ref[i]) - (atol_of(i) + rtol * std::fabs(ref[i]));
    const bool bad = !(excess <= 0);  // NaN counts as bad
    if (bad && (report.ok || excess > worst || std::isnan(excess))) {
      report.ok = false;
      worst = std::isnan(excess) ? INFINITY : excess;
      report.worst_index = i;
      report.worst_value = x[i];
      report.worst_ref = ref[i];
      report.worst_excess = excess;
    }
  }
  return report;
}

CloseReport size_mismatch(size_t count) {
  CloseReport report;
  report.ok = false;
  report.count = count;
  report.worst_excess = INFINITY;
  return report;
}

}  // namespace

CloseReport compare_close(const double* x, const double* ref, size_t n, double atol, double rtol) {
  return compare(x, ref, n, rtol, [atol](size_t) { return atol; });
}

CloseReport compare_close(const std::vector<double>& x, const std::vector<double>& ref, double atol,
                          double rtol) {
  if (x.size() != ref.size()) return size_mismatch(x.size());
  return compare_close(x.data(), ref.data(), x.size(), atol, rtol);
}

CloseReport compare_close(const std::vector<float>& x, const std::vector<double>& ref, double atol,
                          double rtol) {
  return compare_close(std::vector<double>(x.begin(), x.end()), ref, atol, rtol);
}

CloseReport compare_close_each(const std::vector<double>& x, const std::vector<double>& ref,
                               const std::vector<double>& atol, double rtol) {
  if (x.size() != ref.size() || atol.size() != ref.size()) return size_mismatch(ref.size());
  return compare(x.data(), ref.data(), ref.size(), rtol, [&atol](size_t i) { return atol[i]; });
}

CloseReport within(const std::vector<double>& actual, const std::vector<double>& expected,
                   const Tolerance& tolerance) {
  return compare_close(actual, expected, tolerance.atol(expected), tolerance.rtol);
}

CloseReport within(const std::vector<float>& actual, const std::vector<float>& expected,
                   const Tolerance& tolerance) {
  return within(std::vector<double>(actual.begin(), actual.end()),
                std::vector<double>(expected.begin(), expected.end()), tolerance);
}

}  // namespace bert::test
