// The CPU references' support code: the float elementary functions of kernels/cpu_math.h
// against double, the fixed-order sums, and the thread pool of kernels/cpu_parallel.h.
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/blas_split.h"
#include "kernels/cpu_math.h"
#include "kernels/cpu_parallel.h"
#include "tests/kernels/ops_ref_test_util.h"

namespace bert::test {
namespace {

TEST_CASE("cpu_math::exp(float) is within 1 ulp of exp, 0 below -86.6, inf above 88.72", "[kernels][cpu]") {
  double worst_ulps = 0;
  for (float x = -86.6f; x < 88.7f; x += 0.0037f) {
    const double exact = std::exp(static_cast<double>(x));
    const float rounded = static_cast<float>(exact);
    const double ulp = std::nextafter(rounded, INFINITY) - rounded;
    worst_ulps = std::max(worst_ulps, std::fabs(cpu_math::exp(x) - exact) / ulp);
  }
  CHECK(worst_ulps <= 1.0);
  CHECK(cpu_math::exp(0.0f) == 1.0f);
  CHECK(cpu_math::exp(-87.0f) == 0.0f);
  CHECK(cpu_math::exp(-1e30f) == 0.0f);
  CHECK(std::isinf(cpu_math::exp(89.0f)));
  // Non-finite inputs: no undefined float-to-int conversion on the way (UBSan watches this one).
  CHECK(std::isnan(cpu_math::exp(std::numeric_limits<float>::quiet_NaN())));
  CHECK(cpu_math::exp(-std::numeric_limits<float>::infinity()) == 0.0f);
  CHECK(std::isinf(cpu_math::exp(std::numeric_limits<float>::infinity())));
  CHECK(cpu_math::exp(0.5) == std::exp(0.5));  // double is the C library
}

TEST_CASE("cpu_math::normal_cdf(float) within 5e-7 relative wherever it exceeds 1e-30", "[kernels][cpu]") {
  double worst = 0;
  for (float x = -15.0f; x < 15.0f; x += 0.00071f) {
    const double exact = 0.5 * std::erfc(-static_cast<double>(x) / std::sqrt(2.0));
    if (exact < 1e-30) continue;
    worst = std::max(worst, std::fabs(cpu_math::normal_cdf(x) - exact) / exact);
  }
  CHECK(worst <= 5e-7);
  CHECK(cpu_math::normal_cdf(0.0f) == Approx(0.5).epsilon(1e-7));
  CHECK(cpu_math::normal_cdf(40.0f) == 1.0f);
  CHECK(cpu_math::normal_cdf(-40.0f) == 0.0f);
}

TEST_CASE("cpu_math::normal_cdf_pdf(float): the density within 1e-6 relative, Φ as normal_cdf",
          "[kernels][cpu]") {
  double worst = 0;
  for (float x = -15.0f; x < 15.0f; x += 0.00071f) {
    const cpu_math::NormalCdfPdf<float> normal = cpu_math::normal_cdf_pdf(x);
    REQUIRE(normal.cdf == cpu_math::normal_cdf(x));
    const double exact = std::exp(-0.5 * static_cast<double>(x) * x) / std::sqrt(2.0 * M_PI);
    if (exact < 1e-30) continue;
    worst = std::max(worst, std::fabs(normal.pdf - exact) / exact);
  }
  CHECK(worst <= 1e-6);
  CHECK(cpu_math::normal_cdf_pdf(40.0f).pdf == 0.0f);
  CHECK(cpu_math::normal_cdf_pdf(0.5).pdf ==
        std::exp(-0.125) * 0.39894228040143267794);  // double: the C library
}

TEST_CASE("lane sums: every term once, in a fixed order", "[kernels][cpu]") {
  for (const int n : {0, 1, 7, 8, 9, 64, 1001}) {
    std::vector<float> x(n), y(n);
    double sum = 0, dot = 0, deviation = 0;
    for (int i = 0; i < n; ++i) {
      x[i] = 0.25f * static_cast<float>(i % 13) - 1.0f;  // exact sums: multiples of 1/16
      y[i] = 0.5f * static_cast<float>(i % 5);
      sum += x[i];
      dot += double(x[i]) * y[i];
      deviation += (double(x[i]) - 0.5) * (double(x[i]) - 0.5);
    }
    INFO("n " << n);
    CHECK(cpu_math::sum_in_double(x.data(), n) == sum);
    CHECK(cpu_math::dot_in_double(x.data(), y.data(), n) == dot);
    CHECK(cpu_math::squared_deviation_in_double(x.data(), 0.5f, n) == deviation);
  }
}

TEST_CASE("max_of equals the serial running maximum, NaN handling included", "[kernels][cpu]") {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> uniform(-50.0f, 50.0f);
  for (const int n : {1, 2, 7, 8, 9, 16, 17, 200, 383}) {
    for (const int where : {-1, 0, 3, 8, n - 1}) {  // the position of a NaN, -1: none
      std::vector<float> x(n);
      for (float& value : x) value = uniform(rng);
      if (where >= 0 && where < n) x[where] = std::numeric_limits<float>::quiet_NaN();
      float serial = x[0];
      for (int j = 1; j < n; ++j) serial = x[j] > serial ? x[j] : serial;
      INFO("n " << n << " NaN at " << where);
      const float lanes = cpu_math::max_of(x.data(), n);
      if (std::isnan(serial)) {
        CHECK(std::isnan(lanes));
      } else {
        CHECK(lanes == serial);
      }
    }
  }
}

TEST_CASE("gemm_split: one call below the threshold, else 16-aligned bands of the longer side",
          "[kernels][cpu]") {
  // One call: one thread, fewer than kSplitMultiplyAdds multiply-adds, or both sides under 32.
  CHECK(blas::gemm_split(4096, 4096, 4096, 1).band == 0);
  CHECK(blas::gemm_split(100, 100, 399, 8).band == 0);  // 3.99e6 multiply-adds
  CHECK(blas::gemm_split(31, 31, 1 << 20, 8).band == 0);
  CHECK(blas::gemm_split(31, 31, 1 << 20, 8).calls() == 1);
  // Bands of rows when C is tall: ceil(3072 / 4) = 768 rows, 4 calls.
  const blas::GemmSplit tall = blas::gemm_split(3072, 768, 768, 4);
  CHECK(tall.by_rows);
  CHECK(tall.extent == 3072);
  CHECK(tall.band == 768);
  CHECK(tall.calls() == 4);
  // Of columns when wide; ceil(3072 / 5) = 615, rounded up to 624: 5 calls, the last shorter.
  const blas::GemmSplit wide = blas::gemm_split(768, 3072, 768, 5);
  CHECK_FALSE(wide.by_rows);
  CHECK(wide.band == 624);
  CHECK(wide.calls() == 5);
  // Not monotone in the extent: 256 rows on 16 threads are 16 bands of 16, 257 are 9 of 32.
  CHECK(blas::gemm_split(256, 128, 256, 16).calls() == 16);
  CHECK(blas::gemm_split(257, 128, 256, 16).calls() == 9);
}

TEST_CASE("parallel_for: each index once, exceptions rethrown, nested calls run", "[kernels][cpu]") {
  for (const int threads : {1, 2, 5}) {
    cpu::set_thread_count(threads);
    REQUIRE(cpu::thread_count() == threads);
    for (const size_t count : {size_t(0), size_t(1), size_t(999), size_t(100000)}) {
      std::vector<std::atomic<int>> hits(count);
      cpu::parallel_for(count, 37, [&](size_t begin, size_t end) {
        CHECK(end - begin <= 37);
        for (size_t i = begin; i < end; ++i) hits[i]++;
        // A nested call runs in this thread, serially.
        std::atomic<int> inner{0};
        cpu::parallel_for(10, 1, [&](size_t b, size_t e) { inner += static_cast<int>(e - b); });
        CHECK(inner == 10);
      });
      size_t wrong = 0;
      for (const auto& h : hits) wrong += h != 1;
      CHECK(wrong == 0);
    }
    CHECK_THROWS_WITH(cpu::parallel_for(100, 1,
                                        [](size_t begin, size_t) {
                                          if (begin == 57) throw std::runtime_error("piece 57 failed");
                                        }),
                      "piece 57 failed");
    std::vector<double> sums;  // column_sums over 1000 rows of value r + c
    cpu::column_sums(1000, 3, &sums, [](size_t begin, size_t end, double* partial) {
      for (size_t r = begin; r < end; ++r)
        for (size_t c = 0; c < 3; ++c) partial[c] += double(r + c);
    });
    CHECK(sums == std::vector<double>{499500, 500500, 501500});
  }
  cpu::set_thread_count(0);
}

TEST_CASE("parallel_for: back-to-back small runs neither hang nor lose a piece", "[kernels][cpu]") {
  // A worker woken late for one run could claim an index from the old counter just before the
  // next run reset it and compare it with the new piece count: that piece was then counted
  // twice, unfinished_ wrapped and the caller waited forever (seen once in train_squad's
  // evaluation, on a loaded machine). A stress test: many short runs on more threads than
  // cores give that interleaving chances, but cannot force it.
  cpu::set_thread_count(8);
  auto runs = std::async(std::launch::async, [] {
    size_t wrong = 0;
    for (int run = 0; run < 200000; ++run) {
      const size_t count = 2 + size_t(run % 15);
      std::atomic<size_t> sum{0};
      cpu::parallel_for(count, 1, [&](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) sum += i + 1;
      });
      wrong += sum != count * (count + 1) / 2;
    }
    return wrong;
  });
  if (runs.wait_for(std::chrono::seconds(120)) != std::future_status::ready) {
    std::fprintf(stderr, "parallel_for: 200000 short runs did not finish in 120 s: the pool hangs\n");
    std::_Exit(1);  // a hung worker cannot be joined
  }
  CHECK(runs.get() == 0);
  cpu::set_thread_count(0);
}

}  // namespace
}  // namespace bert::test
