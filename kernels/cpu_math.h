// Elementary functions for the CPU references' hot loops, overloaded on the compute type:
// double calls the C library (the oracle that tracks the float64 goldens), float uses
// branch-free polynomial forms that GCC vectorises inside the loops (glibc's expf/erff are
// scalar calls). Accuracy of the float forms against double (tests/kernels/test_cpu_support.cpp):
// exp within 1 ulp; normal_cdf within 5e-7 relative wherever Φ(x) > 1e-30; the density of
// normal_cdf_pdf within 1e-6 relative wherever it exceeds 1e-30.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

// A pointer the hot loop's other pointers do not alias (GCC and Clang spell it __restrict__).
// Needed where a loop reads byte flags: a byte may alias anything, so without it the compiler
// must assume a store to a float array changes the flags and keeps the loop scalar.
#define BERT_RESTRICT __restrict__

namespace bert::cpu_math {

inline float bits_to_float(int32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// exp(x): x = n·ln2 + r with |r| <= ln2/2, exp(r) by Cephes' degree-6 polynomial, 2^n from the
// exponent bits (as 2^(n-1)·2, so n = 128 still has a finite scale). Inputs below -86.6 give 0
// (results under 3e-38; none of our uses needs them); above 88.72, inf; NaN stays NaN.
inline float exp(float x) {
  // Written so that NaN lands on the lower bound: the float-to-int conversion below must see a
  // finite value (converting NaN is undefined behaviour); the NaN itself is returned at the end.
  const float lower = x > -86.6f ? x : -86.6f;
  const float clamped = lower < 88.72283f ? lower : 88.72283f;
  // Round to nearest by the 1.5·2^23 trick: exact for |x·log2(e)| < 2^22.
  const float shifter = 12582912.0f;
  const float n = (clamped * 1.44269504088896341f + shifter) - shifter;
  float r = clamped - n * 0.693359375f;   // ln2 split in two for an exact product
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // n + 126 lies in [1, 254], so the shift stays inside a positive int32.
  const float half_scale = bits_to_float((static_cast<int32_t>(n) + 126) << 23);
  const float result = (p * half_scale) * 2.0f;
  if (x != x) return x;
  return x < -86.6f ? 0.0f : (x > 88.72283f ? HUGE_VALF : result);
}
inline double exp(double x) { return std::exp(x); }

// Φ(x) = P(N(0,1) <= x) and the density φ(x) = exp(−x²/2)/√(2π), together because GELU's
// derivative Φ(x) + x·φ(x) needs both and they share exp(−x²/2).
// Φ(x) = ½·erfc(|x|/√2) for x < 0, 1 − that for x >= 0, so both tails keep their relative
// precision. erfc(z) = t·exp(−z² + P(t)), t = 1/(1 + z/2) (Numerical Recipes' erfcc, relative
// error below 1.2e-7 for z >= 0). z² = x²/2 is carried as x·x plus its FMA rounding error and
// exp(−z²) is taken apart from exp(P(t)), so a large z² loses no digits.
template <typename T>
struct NormalCdfPdf {
  T cdf, pdf;
};
constexpr double kSqrtHalf = 0.70710678118654752440;      // 1/√2
constexpr double kInvSqrtTwoPi = 0.39894228040143267794;  // 1/√(2π)
inline double normal_cdf(double x) { return 0.5 * (1.0 + std::erf(x * kSqrtHalf)); }
inline NormalCdfPdf<float> normal_cdf_pdf(float x) {
  const float magnitude = x < 0.0f ? -x : x;
  const float t = 1.0f / (1.0f + 0.35355339059327376f * magnitude);  // z/2 = |x|/(2√2)
  float poly = 0.17087277f;
  poly = poly * t - 0.82215223f;
  poly = poly * t + 1.48851587f;
  poly = poly * t - 1.13520398f;
  poly = poly * t + 0.27886807f;
  poly = poly * t - 0.18628806f;
  poly = poly * t + 0.09678418f;
  poly = poly * t + 0.37409196f;
  poly = poly * t + 1.00002368f;
  poly = poly * t - 1.26551223f;
  const float square = x * x;
  const float square_error = std::fma(x, x, -square);  // x² = square + square_error exactly
  const float gaussian = exp(-0.5f * square) * (1.0f - 0.5f * square_error);  // exp(−x²/2)
  const float half_erfc = 0.5f * t * exp(poly) * gaussian;
  return {x < 0.0f ? half_erfc : 1.0f - half_erfc, gaussian * static_cast<float>(kInvSqrtTwoPi)};
}
inline NormalCdfPdf<double> normal_cdf_pdf(double x) {
  return {normal_cdf(x), std::exp(-0.5 * x * x) * kInvSqrtTwoPi};
}
// Φ alone (the forward): the unused density folds away when inlined.
inline float normal_cdf(float x) { return normal_cdf_pdf(x).cdf; }

// Sums in double over 8 interleaved partial sums (term j goes to sum j mod 8), added in a fixed
// order at the end: vectorisable, and the same value on every machine.
template <typename Term>
double lane_sum(int n, const Term& term) {
  double partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int j = 0;
  for (; j + 8 <= n; j += 8)
    for (int lane = 0; lane < 8; ++lane) partial[lane] += term(j + lane);
  for (; j < n; ++j) partial[j % 8] += term(j);
  return ((partial[0] + partial[1]) + (partial[2] + partial[3])) + ((partial[4] + partial[5]) + (partial[6] + partial[7]));
}

// max_j x[j] (n >= 1) over 8 interleaved partial maxima: vectorisable, where one running
// maximum is a serial chain. Exact, so the same value as the serial loop `x[j] > m ? x[j] : m`
// from m = x[0], NaN handling included (a NaN in x[0] stays, later NaNs are passed over).
template <typename T>
T max_of(const T* x, int n) {
  T partial[8];
  for (int lane = 0; lane < 8; ++lane) partial[lane] = x[0];
  int j = 0;
  for (; j + 8 <= n; j += 8)
    for (int lane = 0; lane < 8; ++lane) partial[lane] = x[j + lane] > partial[lane] ? x[j + lane] : partial[lane];
  T result = partial[0];
  for (int lane = 1; lane < 8; ++lane) result = partial[lane] > result ? partial[lane] : result;
  for (; j < n; ++j) result = x[j] > result ? x[j] : result;
  return result;
}

// Σ x[j].
template <typename T>
double sum_in_double(const T* x, int n) {
  return lane_sum(n, [x](int j) { return static_cast<double>(x[j]); });
}

// Σ x[j]·y[j], each product in double.
template <typename T>
double dot_in_double(const T* x, const T* y, int n) {
  return lane_sum(n, [x, y](int j) { return static_cast<double>(x[j]) * static_cast<double>(y[j]); });
}

// Σ (x[j] − center)², in double.
template <typename T>
double squared_deviation_in_double(const T* x, T center, int n) {
  return lane_sum(n, [x, center](int j) {
    const double deviation = static_cast<double>(x[j]) - static_cast<double>(center);
    return deviation * deviation;
  });
}

}  // namespace bert::cpu_math
