// The op table's ops over packed sequences and the optimizer: attention, the QA span loss and
// AdamW. Sequence lengths include a 1-token sequence and, at device size, lengths around the
// 64-token tiles (64, 65, 130) and a lone sequence.
#include "tests/ops/op_cases.h"

namespace bert::test {
namespace {

using Role = BufferRole;

std::string lengths_name(const std::vector<int>& lengths) {
  std::string name;
  for (int length : lengths) name += (name.empty() ? "" : "+") + std::to_string(length);
  return name;
}

OpCase attention_case(const std::vector<int>& lengths, int heads, int head_dim, int max_positions,
                      float dropout) {
  const std::vector<int32_t> cu = prefix_sums(lengths);
  AttentionShape shape;
  shape.tokens = cu.back();
  shape.batch = static_cast<int>(lengths.size());
  shape.heads = heads;
  shape.head_dim = head_dim;
  shape.max_positions = max_positions;
  const size_t hidden = size_t(heads) * head_dim, tokens = size_t(shape.tokens);
  const DropoutSpec spec = case_dropout(dropout, dropout_site(1, DropoutKind::kAttentionProbs));
  OpCase c;
  c.op = "attention";
  c.shape = "lengths " + lengths_name(lengths) + ", " + std::to_string(heads) + "x" + std::to_string(head_dim) +
            ", dropout " + std::to_string(dropout).substr(0, 3);
  TensorSpec ctx = output("ctx", Role::kActivation, tokens * hidden);
  ctx.read_by_backward = true;
  c.tensors = {index_input("cu_seqlens", cu), input("qkv", Role::kActivation, tokens * 3 * hidden, -2, 2), ctx,
               with_gpu_tolerance(saved("lse", Role::kStatistic, tokens * heads), Tolerance{1e-4, 0, 1e-4},
                                  Tolerance{1e-5, 0, 1e-5}),
               out_grad("ctx", tokens * hidden),
               // Prefilled far outside the gradient's range: every element must be overwritten.
               gradient("qkv", Role::kActivation, tokens * 3 * hidden, Accumulate::kOverwrite, -9, 9)};
  c.forward = [=](Backend& b, const OpTensors& t) {
    b.attention_forward(t["ctx"], t["lse"], t["qkv"], t["cu_seqlens"], shape, spec);
  };
  c.backward = [=](Backend& b, const OpTensors& t) {
    b.attention_backward(t["d_qkv"], t["d_ctx"], t["qkv"], t["ctx"], t["lse"], t["cu_seqlens"], shape, spec);
  };
  return c;
}

}  // namespace

std::vector<OpCase> attention_cases(OpSize size) {
  std::vector<OpCase> cases;
  for (const float dropout : {0.0f, 0.1f}) {
    if (size == OpSize::kCheck) {
      cases.push_back(attention_case({5, 1, 7}, 2, 3, 8, dropout));
      cases.push_back(attention_case({4}, 1, 4, 4, dropout));
      continue;
    }
    for (const int head_dim : {64, 32})
      for (const std::vector<int>& lengths : {std::vector<int>{1, 37, 64, 65, 130}, std::vector<int>{7}})
        cases.push_back(attention_case(lengths, 2, head_dim, 160, dropout));
    // A head_dim the tensor-core kernels are not built for (the scalar kernels' generic one).
    cases.push_back(attention_case({1, 37, 65}, 3, 26, 80, dropout));
  }
  return cases;
}

std::vector<OpCase> qa_loss_cases(OpSize size) {
  struct Spans {
    std::vector<int> lengths;
    std::vector<int32_t> starts, ends;
  };
  // Answers at a sequence's first and last token and a 1-token sequence.
  const Spans spans = size == OpSize::kCheck ? Spans{{4, 1, 6}, {1, 0, 5}, {3, 0, 0}}
                                             : Spans{{48, 37, 1, 300}, {5, 0, 0, 299}, {9, 36, 0, 150}};
  const int batch = static_cast<int>(spans.lengths.size());
  const std::vector<int32_t> cu = prefix_sums(spans.lengths);
  const size_t tokens = size_t(cu.back());
  const double d_loss_scale = 0.5;
  OpCase c;
  c.op = "qa_loss";
  c.shape = "lengths " + lengths_name(spans.lengths) + ", d_loss_scale 0.5";
  // The op is its own backward: d_logits is ∂/∂logits of d_loss_scale · Σ losses / (2·batch).
  TensorSpec losses = with_gpu_tolerance(output("losses", Role::kStatistic, size_t(batch) * 2),
                                         Tolerance{1e-5, 0, 1e-5}, Tolerance{1e-5, 0, 1e-6});
  losses.loss_weight = d_loss_scale / (2.0 * batch);
  c.tensors = {index_input("cu_seqlens", cu), index_input("start_positions", spans.starts),
               index_input("end_positions", spans.ends), input("logits", Role::kActivation, tokens * 2, -6, 6),
               losses, gradient("logits", Role::kActivation, tokens * 2, Accumulate::kOverwrite)};
  c.forward = [=](Backend& b, const OpTensors& t) {
    b.qa_loss(t["d_logits"], t["losses"], t["logits"], t["cu_seqlens"], t["start_positions"], t["end_positions"],
              batch, d_loss_scale);
  };
  return {c};
}

std::vector<OpCase> adamw_cases(OpSize size) {
  const size_t count = size == OpSize::kCheck ? 37 : 10007;
  std::vector<OpCase> cases;
  for (const double weight_decay : {0.0, 0.01}) {
    OpCase c;
    c.op = "adamw";
    c.shape = "count " + std::to_string(count) + ", weight_decay " + std::to_string(weight_decay).substr(0, 4) +
              ", steps 3 and 4, grad_scale 0.7";
    // Adam's first moment rounds at the size of β1·m and (1−β1)·g, which cancel, not at the
    // size of the result: its absolute tolerance is a few fp32 roundings of those terms (|m| up
    // to 0.1, |g| up to 0.7, two steps).
    c.tensors = {state("master", Role::kMasterParam, count, -1, 1),
                 with_gpu_tolerance(state("exp_avg", Role::kOptimizerState, count, -0.1f, 0.1f),
                                    Tolerance{1e-6, 0, 1e-7}, Tolerance{1e-6, 0, 1e-7}),
                 state("exp_avg_sq", Role::kOptimizerState, count, 0, 0.01f),
                 input("grad", Role::kGradient, count, -1, 1), scratch("working", Role::kWorkingParam, count)};
    for (TensorSpec& spec : c.tensors)
      if (spec.name == "master" || spec.name == "exp_avg_sq")
        spec = with_gpu_tolerance(spec, Tolerance{1e-6, 0, 1e-9}, Tolerance{1e-6, 0, 1e-9});
    c.forward = [=](Backend& b, const OpTensors& t) {
      AdamWHyper hyper;
      hyper.learning_rate = 1e-3;
      hyper.weight_decay = weight_decay;
      const Tensor working = b.has_working_params() ? t["working"] : t["master"];
      for (hyper.step = 3; hyper.step <= 4; ++hyper.step)
        b.adamw_update(t["master"], working, t["exp_avg"], t["exp_avg_sq"], t["grad"], hyper, 0.7);
    };
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace bert::test
