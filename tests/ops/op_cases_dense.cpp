// The op table's row-wise ops: embeddings (+ LayerNorm + dropout), matmul, bias + GELU and
// residual + dropout + LayerNorm. Ranges follow the model: LayerNorm gamma near 1, beta near 0,
// weights of a few tenths, GELU inputs across its curved part.
#include <random>

#include "tests/ops/op_cases.h"

namespace bert::test {
namespace {

using Role = BufferRole;
constexpr float kEps = 1e-12f;  // BERT's layer_norm_eps

struct EmbeddingsShape {
  std::vector<int> lengths;
  int hidden, vocab, positions, types;
  float dropout;
};

OpCase embeddings_case(const EmbeddingsShape& s) {
  // Every third token a random word, the others one of 4 frequent ones: the scatter-add of
  // d_word sees many equal rows, as [CLS], [SEP] and punctuation do.
  std::mt19937 rng(11 + s.hidden);
  std::uniform_int_distribution<int> word(0, s.vocab - 1), frequent(0, 3);
  std::vector<int32_t> input_ids, type_ids, position_ids;
  for (int length : s.lengths)
    for (int p = 0; p < length; ++p) {
      input_ids.push_back(p % 3 == 0 ? word(rng) : frequent(rng) % s.vocab);
      type_ids.push_back(p < length / 2 ? 0 : s.types - 1);
      position_ids.push_back(p % s.positions);
    }
  const int tokens = static_cast<int>(input_ids.size()), hidden = s.hidden;
  const size_t count = size_t(tokens) * hidden;
  const DropoutSpec spec = case_dropout(s.dropout, dropout_site(-1, DropoutKind::kEmbeddings));
  OpCase c;
  c.op = "embeddings";
  c.shape = "tokens " + std::to_string(tokens) + ", hidden " + std::to_string(hidden) + ", dropout " +
            std::to_string(s.dropout).substr(0, 3);
  c.tensors = {
      index_input("input_ids", input_ids), index_input("token_type_ids", type_ids),
      index_input("position_ids", position_ids),
      input("word", Role::kWorkingParam, size_t(s.vocab) * hidden, -1, 1),
      input("position", Role::kWorkingParam, size_t(s.positions) * hidden, -1, 1),
      input("token_type", Role::kWorkingParam, size_t(s.types) * hidden, -1, 1),
      input("gamma", Role::kWorkingParam, hidden, 0.5f, 1.5f),
      input("beta", Role::kWorkingParam, hidden, -0.5f, 0.5f),
      output("out", Role::kActivation, count),
      saved("sum", Role::kActivation, count),
      // The CUDA statistics come from the bf16-rounded sum, the CPU's from the float sum.
      with_gpu_tolerance(saved("mean", Role::kStatistic, tokens), Tolerance{2e-2, 0, 2e-3},
                         Tolerance{1e-5, 1e-5, 1e-6}),
      with_gpu_tolerance(saved("rstd", Role::kStatistic, tokens), Tolerance{2e-3, 0, 1e-6},
                         Tolerance{1e-4, 0, 1e-6}),
      out_grad("out", count),
      gradient("word", Role::kGradient, size_t(s.vocab) * hidden, Accumulate::kAdd),
      gradient("position", Role::kGradient, size_t(s.positions) * hidden, Accumulate::kAdd),
      gradient("token_type", Role::kGradient, size_t(s.types) * hidden, Accumulate::kAdd),
      gradient("gamma", Role::kGradient, hidden, Accumulate::kAdd),
      gradient("beta", Role::kGradient, hidden, Accumulate::kAdd)};
  c.forward = [=](Backend& b, const OpTensors& t) {
    b.embeddings_forward(t["out"], t["sum"], t["mean"], t["rstd"], t["input_ids"], t["token_type_ids"],
                         t["position_ids"], t["word"], t["position"], t["token_type"], t["gamma"],
                         t["beta"], tokens, hidden, kEps, spec);
  };
  c.backward = [=](Backend& b, const OpTensors& t) {
    b.embeddings_backward(t["d_word"], t["d_position"], t["d_token_type"], t["d_gamma"], t["d_beta"],
                          t["d_out"], t["sum"], t["mean"], t["rstd"], t["gamma"], t["input_ids"],
                          t["token_type_ids"], t["position_ids"], tokens, hidden,
                          /*padding_idx=*/-1, spec);  // the true gradient, for the finite differences
  };
  return c;
}

}  // namespace

std::vector<OpCase> embeddings_cases(OpSize size) {
  std::vector<OpCase> cases;
  for (const float dropout : {0.0f, 0.1f}) {
    if (size == OpSize::kCheck) {
      cases.push_back(embeddings_case({{5, 1, 7}, 7, 11, 9, 3, dropout}));
    } else {
      for (const int hidden : {96, 768})
        cases.push_back(embeddings_case({{1, 37, 64, 130}, hidden, 50, 140, 2, dropout}));
    }
  }
  return cases;
}

namespace {

struct MatmulShape {
  int rows, in, out;
  bool bias;
  std::optional<Accumulate> d_inp_mode;  // none: only the weight gradient is wanted
  Accumulate d_weight_mode;
};

OpCase matmul_case(const MatmulShape& s) {
  OpCase c;
  c.op = "matmul";
  c.shape = "rows " + std::to_string(s.rows) + ", in " + std::to_string(s.in) + ", out " +
            std::to_string(s.out) + (s.bias ? ", bias" : "") + ", d_inp " +
            (s.d_inp_mode ? accumulate_name(*s.d_inp_mode) : "none") + ", d_weight " +
            accumulate_name(s.d_weight_mode);
  const size_t inp_count = size_t(s.rows) * s.in, out_count = size_t(s.rows) * s.out;
  c.tensors = {input("inp", Role::kActivation, inp_count, -1, 1),
               input("weight", Role::kWorkingParam, size_t(s.out) * s.in, -0.2f, 0.2f),
               output("out", Role::kActivation, out_count), out_grad("out", out_count),
               gradient("weight", Role::kGradient, size_t(s.out) * s.in, s.d_weight_mode)};
  if (s.bias) c.tensors.push_back(input("bias", Role::kWorkingParam, s.out, -1, 1));
  // d_bias only beside d_inp: the weight-only call skips both, as the op allows.
  if (s.bias && s.d_inp_mode) c.tensors.push_back(gradient("bias", Role::kGradient, s.out, Accumulate::kAdd));
  if (s.d_inp_mode) c.tensors.push_back(gradient("inp", Role::kActivation, inp_count, *s.d_inp_mode));
  const bool bias = s.bias, with_d_inp = s.d_inp_mode.has_value();
  const Accumulate mode = s.d_inp_mode.value_or(Accumulate::kOverwrite);
  c.forward = [=](Backend& b, const OpTensors& t) {
    b.matmul_forward(t["out"], t["inp"], t["weight"], bias ? t["bias"] : Tensor{}, s.rows, s.in, s.out);
  };
  c.backward = [=](Backend& b, const OpTensors& t) {
    b.matmul_backward(with_d_inp ? t["d_inp"] : Tensor{}, t["d_weight"],
                      bias && with_d_inp ? t["d_bias"] : Tensor{}, t["d_out"], t["inp"], t["weight"], s.rows,
                      s.in, s.out, mode, s.d_weight_mode);
  };
  return c;
}

}  // namespace

std::vector<OpCase> matmul_cases(OpSize size) {
  struct Dims {
    int rows, in, out;
  };
  const std::vector<Dims> dims = size == OpSize::kCheck
                                     ? std::vector<Dims>{{5, 7, 3}, {1, 4, 6}}
                                     : std::vector<Dims>{{37, 96, 2},    {130, 128, 384},  {1, 64, 256},
                                                         {77, 768, 768}, {37, 768, 2304}, {37, 3072, 768}};
  std::vector<OpCase> cases;
  for (const Dims& d : dims)
    for (const bool bias : {false, true})
      for (const std::optional<Accumulate> mode :
           {std::optional<Accumulate>(Accumulate::kOverwrite), std::optional<Accumulate>(Accumulate::kAdd),
            std::optional<Accumulate>()})
        // d_weight overwrites (a step's first micro-batch) or adds (the next ones): paired with
        // the d_inp mode, and with the bias when there is no d_inp, so each appears per shape.
        cases.push_back(matmul_case({d.rows, d.in, d.out, bias, mode,
                                     mode ? *mode : (bias ? Accumulate::kAdd : Accumulate::kOverwrite)}));
  return cases;
}

std::vector<OpCase> bias_gelu_cases(OpSize size) {
  struct Dims {
    int rows, width;
  };
  const std::vector<Dims> dims = size == OpSize::kCheck ? std::vector<Dims>{{4, 7}, {1, 5}}
                                                        : std::vector<Dims>{{37, 256}, {130, 3072}, {1, 12}};
  // Each hidden_act function on the small shapes; the large timed shape BERT's erf GELU only.
  const std::vector<std::pair<Activation, const char*>> all_activations = {
      {Activation::kGeluErf, "gelu"},
      {Activation::kGeluTanh, "gelu_new"},
      {Activation::kQuickGelu, "quick_gelu"},
      {Activation::kRelu, "relu"},
      {Activation::kSilu, "silu"}};
  std::vector<OpCase> cases;
  for (const Dims& d : dims)
    for (const auto& [act, act_name] : all_activations) {
      if (act != Activation::kGeluErf && size_t(d.rows) * d.width > 16384) continue;
      const int rows = d.rows, width = d.width;
      const size_t count = size_t(rows) * width;
      OpCase c;
      c.op = "bias_gelu";
      c.shape = "rows " + std::to_string(rows) + ", width " + std::to_string(width);
      if (act != Activation::kGeluErf) c.shape += std::string(", ") + act_name;
      c.tensors = {input("pre", Role::kActivation, count, -4, 4),
                   input("bias", Role::kWorkingParam, width, -1, 1),
                   output("out", Role::kActivation, count),
                   out_grad("out", count),
                   gradient("pre", Role::kActivation, count, Accumulate::kOverwrite),
                   gradient("bias", Role::kGradient, width, Accumulate::kAdd)};
      const Activation a = act;
      c.forward = [=](Backend& b, const OpTensors& t) {
        b.bias_activation_forward(a, t["out"], t["pre"], t["bias"], rows, width);
      };
      c.backward = [=](Backend& b, const OpTensors& t) {
        b.bias_activation_backward(a, t["d_pre"], t["d_bias"], t["d_out"], t["pre"], t["bias"],
                                   rows, width);
      };
      cases.push_back(std::move(c));
    }
  return cases;
}

std::vector<OpCase> residual_layernorm_cases(OpSize size) {
  struct Dims {
    int rows, width;
  };
  const std::vector<Dims> dims = size == OpSize::kCheck ? std::vector<Dims>{{5, 7}, {1, 12}}
                                                        : std::vector<Dims>{{77, 128}, {130, 768}, {1, 1024}};
  std::vector<OpCase> cases;
  for (const Dims& d : dims)
    for (const float dropout : {0.0f, 0.1f})
      for (const Accumulate mode : {Accumulate::kOverwrite, Accumulate::kAdd}) {
        const int rows = d.rows, width = d.width;
        const size_t count = size_t(rows) * width;
        const DropoutSpec spec = case_dropout(dropout, dropout_site(0, DropoutKind::kFfnOutput));
        OpCase c;
        c.op = "residual_layernorm";
        c.shape = "rows " + std::to_string(rows) + ", width " + std::to_string(width) + ", dropout " +
                  std::to_string(dropout).substr(0, 3) + ", d_residual " + accumulate_name(mode);
        c.tensors = {
            input("branch", Role::kActivation, count, -2, 2), input("residual", Role::kActivation, count, -2, 2),
            input("gamma", Role::kWorkingParam, width, 0.5f, 1.5f),
            input("beta", Role::kWorkingParam, width, -0.5f, 0.5f), output("out", Role::kActivation, count),
            saved("sum", Role::kActivation, count),
            with_gpu_tolerance(saved("mean", Role::kStatistic, rows), Tolerance{1e-5, 1e-5, 1e-6},
                               Tolerance{1e-5, 1e-5, 1e-6}),
            with_gpu_tolerance(saved("rstd", Role::kStatistic, rows), Tolerance{1e-3, 0, 1e-6},
                               Tolerance{1e-3, 0, 1e-6}),
            out_grad("out", count), gradient("branch", Role::kActivation, count, Accumulate::kOverwrite),
            gradient("residual", Role::kActivation, count, mode),
            gradient("gamma", Role::kGradient, width, Accumulate::kAdd),
            gradient("beta", Role::kGradient, width, Accumulate::kAdd)};
        c.forward = [=](Backend& b, const OpTensors& t) {
          b.residual_layernorm_forward(t["out"], t["sum"], t["mean"], t["rstd"], t["branch"], t["residual"],
                                       t["gamma"], t["beta"], rows, width, kEps, spec);
        };
        c.backward = [=](Backend& b, const OpTensors& t) {
          b.residual_layernorm_backward(t["d_branch"], t["d_residual"], t["d_gamma"], t["d_beta"], t["d_out"],
                                        t["sum"], t["mean"], t["rstd"], t["gamma"], rows, width, spec, mode);
        };
        cases.push_back(std::move(c));
      }
  return cases;
}

}  // namespace bert::test
