// CPU references of embedding, LayerNorm, linear and bias-GELU: forward against naive
// formulas, every gradient against central differences in double, float against double.
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "kernels/embedding.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "tests/kernels/ops_ref_test_util.h"

namespace bert::test {
namespace {

struct EmbeddingCase {
  int tokens = 13, hidden = 7, vocab = 11, positions = 9, types = 3;
  // Repeated ids so the scatter-add of equal rows is exercised.
  std::vector<int32_t> input_ids{3, 7, 3, 0, 10, 3, 5, 7, 1, 2, 9, 10, 4};
  std::vector<int32_t> type_ids{0, 0, 1, 1, 2, 0, 0, 1, 1, 1, 0, 2, 2};
  std::vector<int32_t> position_ids{0, 1, 2, 3, 4, 0, 0, 1, 2, 3, 8, 8, 5};
};

template <typename T>
std::vector<T> embedding_out(const EmbeddingCase& c, const std::vector<T>& word,
                             const std::vector<T>& position, const std::vector<T>& type) {
  std::vector<T> out(static_cast<size_t>(c.tokens) * c.hidden);
  embedding_forward_ref(out.data(), c.input_ids.data(), c.type_ids.data(), c.position_ids.data(),
                        word.data(), position.data(), type.data(), c.tokens, c.hidden);
  return out;
}

TEST_CASE("embedding_ref: forward, gradients and float agreement", "[kernels][embedding]") {
  std::mt19937_64 rng(11);
  const EmbeddingCase c;
  std::vector<double> word = random_vector(c.vocab * c.hidden, rng);
  std::vector<double> position = random_vector(c.positions * c.hidden, rng);
  std::vector<double> type = random_vector(c.types * c.hidden, rng);
  const std::vector<double> r = random_vector(c.tokens * c.hidden, rng);

  const std::vector<double> out = embedding_out(c, word, position, type);
  std::vector<double> expected(out.size());
  for (int t = 0; t < c.tokens; ++t)
    for (int h = 0; h < c.hidden; ++h)
      expected[t * c.hidden + h] = word[c.input_ids[t] * c.hidden + h] +
                                   position[c.position_ids[t] * c.hidden + h] +
                                   type[c.type_ids[t] * c.hidden + h];
  REQUIRE_CLOSE("embedding forward", compare_close(out, expected, 1e-15, 1e-15));

  // Backward accumulates: start from non-zero buffers and check the increment.
  const std::vector<double> word0 = random_vector(word.size(), rng);
  const std::vector<double> position0 = random_vector(position.size(), rng);
  const std::vector<double> type0 = random_vector(type.size(), rng);
  std::vector<double> d_word = word0, d_position = position0, d_type = type0;
  embedding_backward_ref(d_word.data(), d_position.data(), d_type.data(), r.data(),
                         c.input_ids.data(), c.type_ids.data(), c.position_ids.data(), c.tokens,
                         c.hidden, /*padding_idx=*/-1);
  const auto loss = [&] { return dot(r, embedding_out(c, word, position, type)); };
  check_gradient("d_word", word, minus(d_word, word0), loss);
  check_gradient("d_position", position, minus(d_position, position0), loss);
  check_gradient("d_token_type", type, minus(d_type, type0), loss);

  // Hugging Face's padding_idx: row 3 (three tokens hold it) keeps its value, every other row
  // and table gets exactly what it got without a padding row.
  std::vector<double> p_word = word0, p_position = position0, p_type = type0;
  embedding_backward_ref(p_word.data(), p_position.data(), p_type.data(), r.data(),
                         c.input_ids.data(), c.type_ids.data(), c.position_ids.data(), c.tokens,
                         c.hidden, /*padding_idx=*/3);
  for (int row = 0; row < c.vocab; ++row)
    for (int h = 0; h < c.hidden; ++h) {
      const size_t i = size_t(row) * c.hidden + h;
      REQUIRE(p_word[i] == (row == 3 ? word0[i] : d_word[i]));
    }
  REQUIRE(p_position == d_position);
  REQUIRE(p_type == d_type);

  const std::vector<float> out_float =
      embedding_out(c, to_float(word), to_float(position), to_float(type));
  REQUIRE_CLOSE("embedding float vs double", compare_close(out_float, out, kFloatAtol, kFloatRtol));
}

struct LayerNormCase {
  int rows = 5, width = 7;
  float eps = 1e-5f;
};

template <typename T>
struct LayerNormResult {
  std::vector<T> out, mean, rstd;
};

template <typename T>
LayerNormResult<T> layernorm_out(const LayerNormCase& c, const std::vector<T>& inp,
                                 const std::vector<T>& gamma, const std::vector<T>& beta) {
  LayerNormResult<T> result{std::vector<T>(inp.size()), std::vector<T>(c.rows),
                            std::vector<T>(c.rows)};
  layernorm_forward_ref(result.out.data(), result.mean.data(), result.rstd.data(), inp.data(),
                        gamma.data(), beta.data(), c.rows, c.width, c.eps);
  return result;
}

TEST_CASE("layernorm_ref: forward, gradients and float agreement", "[kernels][layernorm]") {
  std::mt19937_64 rng(12);
  const LayerNormCase c;
  std::vector<double> inp = random_vector(c.rows * c.width, rng, -2.0, 3.0);
  std::vector<double> gamma = random_vector(c.width, rng, 0.5, 1.5);
  std::vector<double> beta = random_vector(c.width, rng);
  const std::vector<double> r = random_vector(inp.size(), rng);

  const LayerNormResult<double> fwd = layernorm_out(c, inp, gamma, beta);
  std::vector<double> mean(c.rows), rstd(c.rows), expected(inp.size());
  for (int row = 0; row < c.rows; ++row) {
    double sum = 0, sum_sq = 0;
    for (int i = 0; i < c.width; ++i) sum += inp[row * c.width + i];
    mean[row] = sum / c.width;
    for (int i = 0; i < c.width; ++i)
      sum_sq += (inp[row * c.width + i] - mean[row]) * (inp[row * c.width + i] - mean[row]);
    rstd[row] = 1.0 / std::sqrt(sum_sq / c.width + static_cast<double>(c.eps));
    for (int i = 0; i < c.width; ++i)
      expected[row * c.width + i] =
          (inp[row * c.width + i] - mean[row]) * rstd[row] * gamma[i] + beta[i];
  }
  REQUIRE_CLOSE("layernorm mean", compare_close(fwd.mean, mean, 1e-14, 1e-13));
  REQUIRE_CLOSE("layernorm rstd", compare_close(fwd.rstd, rstd, 1e-14, 1e-13));
  REQUIRE_CLOSE("layernorm out", compare_close(fwd.out, expected, 1e-14, 1e-13));

  const std::vector<double> gamma0 = random_vector(c.width, rng), beta0 = random_vector(c.width, rng);
  std::vector<double> d_inp(inp.size()), d_gamma = gamma0, d_beta = beta0;
  layernorm_backward_ref(d_inp.data(), d_gamma.data(), d_beta.data(), r.data(), inp.data(),
                         gamma.data(), fwd.mean.data(), fwd.rstd.data(), c.rows, c.width,
                         Accumulate::kOverwrite);
  const auto loss = [&] { return dot(r, layernorm_out(c, inp, gamma, beta).out); };
  check_gradient("layernorm d_inp", inp, d_inp, loss);
  check_gradient("layernorm d_gamma", gamma, minus(d_gamma, gamma0), loss);
  check_gradient("layernorm d_beta", beta, minus(d_beta, beta0), loss);

  // kAdd adds the same gradient onto what d_inp held.
  const std::vector<double> d_inp0 = random_vector(inp.size(), rng);
  std::vector<double> d_inp_added = d_inp0;
  layernorm_backward_ref(d_inp_added.data(), d_gamma.data(), d_beta.data(), r.data(), inp.data(),
                         gamma.data(), fwd.mean.data(), fwd.rstd.data(), c.rows, c.width,
                         Accumulate::kAdd);
  REQUIRE_CLOSE("layernorm kAdd", compare_close(d_inp_added, plus(d_inp0, d_inp), 1e-15, 1e-14));

  const LayerNormResult<float> fwd_float =
      layernorm_out(c, to_float(inp), to_float(gamma), to_float(beta));
  REQUIRE_CLOSE("layernorm float out", compare_close(fwd_float.out, fwd.out, kFloatAtol, kFloatRtol));
  REQUIRE_CLOSE("layernorm float mean",
                compare_close(fwd_float.mean, fwd.mean, kFloatAtol, kFloatRtol));
  REQUIRE_CLOSE("layernorm float rstd",
                compare_close(fwd_float.rstd, fwd.rstd, kFloatAtol, kFloatRtol));
}

struct MatmulCase {
  int rows = 5, in = 7, out = 3;
};

template <typename T>
std::vector<T> matmul_out(const MatmulCase& c, const std::vector<T>& inp,
                          const std::vector<T>& weight, const T* bias) {
  std::vector<T> out(static_cast<size_t>(c.rows) * c.out);
  matmul_forward_ref(out.data(), inp.data(), weight.data(), bias, c.rows, c.in, c.out);
  return out;
}

TEST_CASE("matmul_ref: forward, gradients and float agreement", "[kernels][matmul]") {
  std::mt19937_64 rng(13);
  const MatmulCase c;
  std::vector<double> inp = random_vector(c.rows * c.in, rng);
  std::vector<double> weight = random_vector(c.out * c.in, rng);
  std::vector<double> bias = random_vector(c.out, rng);
  const std::vector<double> r = random_vector(c.rows * c.out, rng);

  const std::vector<double> out = matmul_out(c, inp, weight, bias.data());
  const std::vector<double> out_no_bias = matmul_out<double>(c, inp, weight, nullptr);
  std::vector<double> expected(out.size()), expected_no_bias(out.size());
  for (int row = 0; row < c.rows; ++row)
    for (int o = 0; o < c.out; ++o) {
      double sum = 0;
      for (int i = 0; i < c.in; ++i) sum += inp[row * c.in + i] * weight[o * c.in + i];
      expected_no_bias[row * c.out + o] = sum;
      expected[row * c.out + o] = sum + bias[o];
    }
  REQUIRE_CLOSE("matmul forward", compare_close(out, expected, 1e-15, 1e-14));
  REQUIRE_CLOSE("matmul forward without bias",
                compare_close(out_no_bias, expected_no_bias, 1e-15, 1e-14));

  const std::vector<double> weight0 = random_vector(weight.size(), rng);
  const std::vector<double> bias0 = random_vector(bias.size(), rng);
  std::vector<double> d_inp(inp.size()), d_weight = weight0, d_bias = bias0;
  matmul_backward_ref(d_inp.data(), d_weight.data(), d_bias.data(), r.data(), inp.data(),
                      weight.data(), c.rows, c.in, c.out, Accumulate::kOverwrite, Accumulate::kAdd);
  const auto loss = [&] { return dot(r, matmul_out(c, inp, weight, bias.data())); };
  check_gradient("matmul d_inp", inp, d_inp, loss);
  check_gradient("matmul d_weight", weight, minus(d_weight, weight0), loss);
  check_gradient("matmul d_bias", bias, minus(d_bias, bias0), loss);

  // kAdd on d_inp; null d_inp and d_bias are skipped while d_weight still accumulates.
  const std::vector<double> d_inp0 = random_vector(inp.size(), rng);
  std::vector<double> d_inp_added = d_inp0, d_weight_again = weight0;
  matmul_backward_ref<double>(d_inp_added.data(), d_weight_again.data(), nullptr, r.data(), inp.data(),
                      weight.data(), c.rows, c.in, c.out, Accumulate::kAdd, Accumulate::kAdd);
  REQUIRE_CLOSE("matmul kAdd", compare_close(d_inp_added, plus(d_inp0, d_inp), 1e-15, 1e-14));
  matmul_backward_ref<double>(nullptr, d_weight_again.data(), nullptr, r.data(), inp.data(),
                              weight.data(), c.rows, c.in, c.out, Accumulate::kOverwrite, Accumulate::kAdd);
  const std::vector<double> twice = plus(weight0, plus(minus(d_weight, weight0), minus(d_weight, weight0)));
  REQUIRE_CLOSE("matmul d_weight accumulates", compare_close(d_weight_again, twice, 1e-15, 1e-14));

  // d_weight kOverwrite replaces whatever the buffer held (the first micro-batch of a step);
  // with no rows that is zero.
  std::vector<double> d_weight_fresh = random_vector(weight.size(), rng);
  matmul_backward_ref<double>(nullptr, d_weight_fresh.data(), nullptr, r.data(), inp.data(), weight.data(),
                              c.rows, c.in, c.out, Accumulate::kOverwrite, Accumulate::kOverwrite);
  REQUIRE_CLOSE("matmul d_weight overwrite", compare_close(d_weight_fresh, minus(d_weight, weight0), 1e-15, 1e-14));
  matmul_backward_ref<double>(nullptr, d_weight_fresh.data(), nullptr, r.data(), inp.data(), weight.data(), 0,
                              c.in, c.out, Accumulate::kOverwrite, Accumulate::kOverwrite);
  REQUIRE(d_weight_fresh == std::vector<double>(weight.size(), 0.0));

  const std::vector<float> bias_float = to_float(bias);
  const std::vector<float> out_float =
      matmul_out(c, to_float(inp), to_float(weight), bias_float.data());
  REQUIRE_CLOSE("matmul float vs double", compare_close(out_float, out, kFloatAtol, kFloatRtol));
}

struct GeluCase {
  int rows = 4, width = 7;
};

template <typename T>
std::vector<T> gelu_out(const GeluCase& c, const std::vector<T>& pre, const std::vector<T>& bias) {
  std::vector<T> out(pre.size());
  bias_activation_forward_ref(Activation::kGeluErf, out.data(), pre.data(), bias.data(), c.rows,
                              c.width);
  return out;
}

TEST_CASE("bias_gelu_ref: forward, gradients and float agreement", "[kernels][gelu]") {
  std::mt19937_64 rng(14);
  const GeluCase c;
  std::vector<double> pre = random_vector(c.rows * c.width, rng, -3.0, 3.0);
  std::vector<double> bias = random_vector(c.width, rng);
  const std::vector<double> r = random_vector(pre.size(), rng);

  // x·Φ(x) with Φ written through erfc: an independent route to the same value.
  const std::vector<double> out = gelu_out(c, pre, bias);
  std::vector<double> expected(out.size());
  for (int row = 0; row < c.rows; ++row)
    for (int i = 0; i < c.width; ++i) {
      const double x = pre[row * c.width + i] + bias[i];
      expected[row * c.width + i] = x * 0.5 * std::erfc(-x / std::sqrt(2.0));
    }
  REQUIRE_CLOSE("gelu forward", compare_close(out, expected, 1e-15, 1e-14));

  const std::vector<double> bias0 = random_vector(bias.size(), rng);
  std::vector<double> d_pre(pre.size()), d_bias = bias0;
  bias_activation_backward_ref(Activation::kGeluErf, d_pre.data(), d_bias.data(), r.data(),
                               pre.data(), bias.data(), c.rows, c.width);
  const auto loss = [&] { return dot(r, gelu_out(c, pre, bias)); };
  check_gradient("gelu d_pre", pre, d_pre, loss);
  check_gradient("gelu d_bias", bias, minus(d_bias, bias0), loss);

  const std::vector<float> out_float = gelu_out(c, to_float(pre), to_float(bias));
  REQUIRE_CLOSE("gelu float vs double", compare_close(out_float, out, kFloatAtol, kFloatRtol));
}

TEST_CASE("bias_activation_ref: each hidden_act as transformers' ACT2FN computes it",
          "[kernels][gelu]") {
  // Values and derivatives from transformers 5.25's ACT2FN[name] under torch 2.15 float64
  // autograd at x = -3, -0.5, 0, 0.7, 2.5 (zero bias).
  struct Expected {
    const char* name;
    double value[5], derivative[5];
  };
  const Expected kCases[] = {
      {"gelu",
       {-0.0040496940948903104, -0.15426876936299344, 0, 0.53062544344384888, 2.4844758366855597},
       {-0.01194564720418392, 0.13250487534383712, 0.5, 0.97661410113365987, 1.0376110859081451}},
      {"gelu_new",
       {-0.0036373920817729943, -0.15428599017485606, 0, 0.53057013470511671, 2.4849157339100012},
       {-0.011584166630969651, 0.13263009646535764, 0.5, 0.97635721865610403, 1.0379515762126661}},
      {"gelu_fast",  // its constant 0.7978845608 for √(2/π): the same to 1e-10
       {-0.0036373920818605909, -0.15428599017516514, 0, 0.53057013470459025, 2.4849157339097268},
       {-0.011584166631202292, 0.13263009646641249, 0.5, 0.97635721865502945, 1.0379515762131948}},
      {"quick_gelu",
       {-0.018071309707785969, -0.14961156339361989, 0, 0.53689395172315013, 2.4650138349514301},
       {-0.024548323905652352, 0.12077808803458576, 0.5, 0.97991314200083846, 1.0447186660813743}},
      {"relu", {0, 0, 0, 0.69999999999999996, 2.5}, {0, 0, 0, 1, 1}},
      {"silu",
       {-0.14227761953270035, -0.1887703343990727, 0, 0.46773144051771626, 2.3103545499468914},
       {-0.088104106015169617, 0.26003881269734819, 0.5, 0.82338678347334249, 1.0994011113415267}},
  };
  const std::vector<double> x = {-3.0, -0.5, 0.0, 0.7, 2.5}, bias(5, 0.0), ones(5, 1.0);
  for (const Expected& e : kCases) {
    INFO(e.name);
    const std::optional<Activation> act = activation_from_hf_name(e.name);
    REQUIRE(act.has_value());
    std::vector<double> value(5), derivative(5), d_bias(5, 0.0);
    bias_activation_forward_ref(*act, value.data(), x.data(), bias.data(), 5, 1);
    bias_activation_backward_ref(*act, derivative.data(), d_bias.data(), ones.data(), x.data(),
                                 bias.data(), 5, 1);
    const double tolerance = std::string(e.name) == "gelu_fast" ? 1e-9 : 1e-13;
    REQUIRE_CLOSE("value", compare_close(value, std::vector<double>(e.value, e.value + 5),
                                         tolerance, tolerance));
    REQUIRE_CLOSE("derivative",
                  compare_close(derivative, std::vector<double>(e.derivative, e.derivative + 5),
                                tolerance, tolerance));
    std::vector<float> value_float(5);
    const std::vector<float> x_float = to_float(x), bias_float(5, 0.0f);
    bias_activation_forward_ref(*act, value_float.data(), x_float.data(), bias_float.data(), 5, 1);
    REQUIRE_CLOSE("float vs double", compare_close(value_float, value, kFloatAtol, kFloatRtol));
  }
  // The names read alike map to one function; others are refused by name.
  CHECK(activation_from_hf_name("gelu_python") == Activation::kGeluErf);
  CHECK(activation_from_hf_name("gelu_pytorch_tanh") == Activation::kGeluTanh);
  CHECK(activation_from_hf_name("swish") == Activation::kSilu);
  CHECK_FALSE(activation_from_hf_name("gelu_10").has_value());
  CHECK_FALSE(activation_from_hf_name("mish").has_value());
  CHECK_FALSE(activation_from_hf_name("GELU").has_value());  // ACT2FN's keys are lower case
}

}  // namespace
}  // namespace bert::test
