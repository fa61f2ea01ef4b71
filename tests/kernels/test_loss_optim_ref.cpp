// CPU references of the QA span loss (value and d_logits) and of AdamW (against a
// hand-unrolled two-step computation), each also in float against double.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/adamw.h"
#include "kernels/qa_loss.h"
#include "tests/kernels/ops_ref_test_util.h"

namespace bert::test {
namespace {

struct QaCase {
  std::vector<int32_t> cu_seqlens{0, 5, 6, 13};
  std::vector<int32_t> starts{2, 0, 6}, ends{4, 0, 3};
  int batch = 3, tokens = 13;
};

template <typename T>
struct QaResult {
  std::vector<T> d_logits, losses;
};

template <typename T>
QaResult<T> qa_loss(const QaCase& c, const std::vector<T>& logits, T d_loss_scale) {
  QaResult<T> result{std::vector<T>(logits.size()), std::vector<T>(2 * c.batch)};
  qa_loss_forward_backward_ref(result.d_logits.data(), result.losses.data(), logits.data(),
                               c.cu_seqlens.data(), c.starts.data(), c.ends.data(), c.batch,
                               d_loss_scale);
  return result;
}

// The scalar loss the gradient refers to: d_loss_scale · Σ losses / (2·batch).
double total_loss(const QaCase& c, const std::vector<double>& losses, double d_loss_scale) {
  double sum = 0;
  for (double loss : losses) sum += loss;
  return d_loss_scale * sum / (2 * c.batch);
}

TEST_CASE("qa_loss_ref: losses, d_logits by finite differences, float", "[kernels][qa_loss]") {
  const QaCase c;
  std::mt19937_64 rng(41);
  std::vector<double> logits = random_vector(2 * c.tokens, rng, -3.0, 3.0);
  const double scale = 0.5;  // as with 2 gradient-accumulation steps
  const QaResult<double> result = qa_loss(c, logits, scale);

  std::vector<double> expected(2 * c.batch);
  for (int b = 0; b < c.batch; ++b)
    for (int column = 0; column < 2; ++column) {
      double sum = 0;
      for (int t = c.cu_seqlens[b]; t < c.cu_seqlens[b + 1]; ++t) sum += std::exp(logits[2 * t + column]);
      const int target = c.cu_seqlens[b] + (column == 0 ? c.starts[b] : c.ends[b]);
      expected[2 * b + column] = -std::log(std::exp(logits[2 * target + column]) / sum);
    }
  REQUIRE_CLOSE("qa losses", compare_close(result.losses, expected, 1e-14, 1e-13));
  REQUIRE(result.losses[2] == 0.0);  // a one-token sequence has nothing to choose: loss 0
  check_gradient("qa d_logits", logits, result.d_logits,
                 [&] { return total_loss(c, qa_loss(c, logits, scale).losses, scale); });

  const QaResult<float> result_float = qa_loss(c, to_float(logits), 0.5f);
  REQUIRE_CLOSE("qa float losses",
                compare_close(result_float.losses, result.losses, kFloatAtol, kFloatRtol));
  REQUIRE_CLOSE("qa float d_logits",
                compare_close(result_float.d_logits, result.d_logits, kFloatAtol, kFloatRtol));
}

TEST_CASE("qa_loss_ref: stable for large logits, rejects bad positions", "[kernels][qa_loss]") {
  QaCase c;
  std::vector<double> logits(2 * c.tokens, 0.0);
  for (int t = 0; t < c.tokens; ++t) logits[2 * t] = logits[2 * t + 1] = 1000.0 + t;
  const QaResult<double> result = qa_loss(c, logits, 1.0);
  // Sequence 0 has logits 1000..1004 and targets 2 (start) and 4 (end).
  double tail = 0;
  for (int t = 0; t < 5; ++t) tail += std::exp(t - 4.0);
  REQUIRE_CLOSE("qa large logits",
                compare_close(std::vector<double>{result.losses[0], result.losses[1]},
                              std::vector<double>{2.0 + std::log(tail), std::log(tail)}, 1e-12,
                              1e-12));
  c.starts = {5, 0, 0};  // outside the 5-token sequence
  REQUIRE_THROWS_AS(qa_loss(c, logits, 1.0), BertError);
  c.starts = {0, 0, 0};
  c.ends = {0, -1, 0};
  REQUIRE_THROWS_AS(qa_loss(c, logits, 1.0), BertError);
}

// Two AdamW steps written out with the textbook formula, per element.
std::vector<double> adamw_two_steps(std::vector<double> param, const std::vector<double>& grad1,
                                    const std::vector<double>& grad2, const AdamWHyper& hyper,
                                    double grad_scale) {
  const double b1 = hyper.beta1, b2 = hyper.beta2, lr = hyper.learning_rate;
  for (size_t i = 0; i < param.size(); ++i) {
    const double g1 = grad1[i] * grad_scale, g2 = grad2[i] * grad_scale;
    double p = param[i] * (1 - lr * hyper.weight_decay);
    double m = (1 - b1) * g1, v = (1 - b2) * g1 * g1;
    p -= lr / (1 - b1) * m / (std::sqrt(v) / std::sqrt(1 - b2) + hyper.eps);
    p *= 1 - lr * hyper.weight_decay;
    m = b1 * m + (1 - b1) * g2;
    v = b2 * v + (1 - b2) * g2 * g2;
    p -= lr / (1 - b1 * b1) * m / (std::sqrt(v) / std::sqrt(1 - b2 * b2) + hyper.eps);
    param[i] = p;
  }
  return param;
}

template <typename T>
std::vector<T> run_adamw(std::vector<T> param, const std::vector<T>& grad1,
                         const std::vector<T>& grad2, AdamWHyper hyper, double grad_scale) {
  std::vector<T> m(param.size(), T(0)), v(param.size(), T(0));
  hyper.step = 1;
  adamw_update_ref(param.data(), m.data(), v.data(), grad1.data(), param.size(), hyper, grad_scale);
  hyper.step = 2;
  adamw_update_ref(param.data(), m.data(), v.data(), grad2.data(), param.size(), hyper, grad_scale);
  return param;
}

TEST_CASE("adamw_update_ref: two steps vs the written-out formula", "[kernels][adamw]") {
  std::mt19937_64 rng(51);
  const size_t count = 37;
  const std::vector<double> param = random_vector(count, rng);
  std::vector<double> grad1 = random_vector(count, rng), grad2 = random_vector(count, rng);
  grad1[3] = 0.0;  // m = v = 0: the update is eps-limited, only weight decay moves it
  AdamWHyper hyper;
  hyper.learning_rate = 1e-2;
  hyper.weight_decay = 0.1;
  const double grad_scale = 0.37;

  const std::vector<double> updated = run_adamw(param, grad1, grad2, hyper, grad_scale);
  const std::vector<double> expected = adamw_two_steps(param, grad1, grad2, hyper, grad_scale);
  REQUIRE_CLOSE("adamw two steps", compare_close(updated, expected, 1e-15, 1e-12));
  // The update must be visible well above the tolerance.
  REQUIRE_FALSE(compare_close(updated, param, 1e-4, 0).ok);

  hyper.weight_decay = 0;
  REQUIRE_CLOSE("adamw without decay",
                compare_close(run_adamw(param, grad1, grad2, hyper, 1.0),
                              adamw_two_steps(param, grad1, grad2, hyper, 1.0), 1e-15, 1e-12));

  hyper.weight_decay = 0.1;
  const std::vector<float> updated_float =
      run_adamw(to_float(param), to_float(grad1), to_float(grad2), hyper, grad_scale);
  REQUIRE_CLOSE("adamw float vs double",
                compare_close(updated_float, updated, kFloatAtol, kFloatRtol));
}

TEST_CASE("sum_squares_ref", "[kernels][adamw]") {
  std::mt19937_64 rng(52);
  const std::vector<double> values = random_vector(1001, rng);
  double expected = 0;
  for (double v : values) expected += v * v;
  REQUIRE_CLOSE("sum_squares", compare_close(std::vector<double>{sum_squares_ref(values.data(), values.size())},
                                             std::vector<double>{expected}, 0, 1e-13));
  const std::vector<float> values_float = to_float(values);
  REQUIRE_CLOSE("sum_squares float",
                compare_close(std::vector<double>{sum_squares_ref(values_float.data(), values.size())},
                              std::vector<double>{expected}, 0, 1e-6));
}

}  // namespace
}  // namespace bert::test
