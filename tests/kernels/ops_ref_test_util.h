// Helpers for the CPU reference op tests: seeded random tensors, float/double conversion,
// the projected loss L = Σ r·out, and the central finite-difference gradient check.
#pragma once

#include <cstddef>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/test_support.h"

namespace bert::test {

// Finite-difference step and tolerances for double-precision gradient checks: truncation
// error is O(h²) ≈ 1e-12 and rounding error ≈ 1e-16·|L|/h ≈ 1e-9 for the losses used here.
constexpr double kFdStep = 1e-6;
constexpr double kFdRtol = 1e-6;
constexpr double kFdAtol = 1e-8;
// Float instantiation vs double instantiation on the same inputs.
constexpr double kFloatRtol = 1e-5;
constexpr double kFloatAtol = 1e-6;

inline std::vector<double> random_vector(size_t n, std::mt19937_64& rng, double low = -1.0,
                                         double high = 1.0) {
  std::uniform_real_distribution<double> dist(low, high);
  std::vector<double> values(n);
  for (double& v : values) v = dist(rng);
  return values;
}

inline std::vector<float> to_float(const std::vector<double>& values) {
  return std::vector<float>(values.begin(), values.end());
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
  return sum;
}

// Central differences of `loss` with respect to every element of `x` (restored afterwards).
inline std::vector<double> finite_difference(std::vector<double>& x,
                                             const std::function<double()>& loss) {
  std::vector<double> grad(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + kFdStep;
    const double plus = loss();
    x[i] = saved - kFdStep;
    const double minus = loss();
    x[i] = saved;
    grad[i] = (plus - minus) / (2 * kFdStep);
  }
  return grad;
}

// REQUIREs the analytic gradient of `x` to match central differences of `loss`.
inline void check_gradient(const std::string& name, std::vector<double>& x,
                           const std::vector<double>& analytic,
                           const std::function<double()>& loss) {
  REQUIRE(analytic.size() == x.size());
  const std::vector<double> numeric = finite_difference(x, loss);
  REQUIRE_CLOSE(name, compare_close(analytic, numeric, kFdAtol, kFdRtol));
}

// a − b elementwise: the part an accumulating backward added to a pre-filled buffer.
inline std::vector<double> minus(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] - b[i];
  return out;
}

inline std::vector<double> plus(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] + b[i];
  return out;
}

}  // namespace bert::test
