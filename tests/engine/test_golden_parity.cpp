// The whole model against Hugging Face (float64 PyTorch): hidden states, logits, loss, every
// gradient, the gradient norm, and every parameter after the golden's AdamW steps. Runs the
// double-precision CPU backend (tight tolerances) and the float one (1e-5 relative).
// The golden directory comes from $BERT_GOLDEN_DIR (default ../shared/golden/tiny-bert-qa);
// step count and optimizer settings come from its metadata.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "engine/bert_qa_model.h"
#include "core/file_io.h"
#include "engine/optimizer.h"
#include "tests/engine/golden_model.h"
#include "tests/test_support.h"

namespace bert {
namespace {

using test::Tolerance;
using test::within;

void run_parity(bool double_precision, const Tolerance& activations, const Tolerance& gradients,
                const Tolerance& param_tolerance) {
  const test::GoldenModel golden = test::read_golden_model(test::golden_dir().path);
  INFO("golden " << golden.dir << (double_precision ? " (double)" : " (float)"));
  const BertConfig& config = golden.config;

  std::unique_ptr<Backend> backend = make_cpu_backend(double_precision);
  BertQaModel model(*backend, config, golden.batch.tokens(), golden.batch.batch());
  model.set_parameters(golden.initial_params);
  model.load_batch(golden.batch);

  AdamWOptimizer optimizer(model, golden.optimizer);

  const std::vector<double>& losses = golden.tensors.at("out.loss_steps");
  const std::vector<double>& norms = golden.tensors.at("out.grad_norm_steps");
  REQUIRE(static_cast<int>(losses.size()) == golden.steps);

  // A tensor whose exact gradient is zero (qa_outputs.bias, the key bias: softmax and span loss
  // are shift-invariant) gets the rounding noise of its sum in float: the d_logits of a column
  // sum to 0 with magnitudes summing to at most 1, so the noise is bounded by FLT_EPSILON.
  auto gradient_tolerance_for = [&](const std::string& name) {
    Tolerance tolerance = gradients;
    if (!double_precision && golden.zero_gradient(name))
      tolerance.atol_floor = std::max(tolerance.atol_floor, double(std::numeric_limits<float>::epsilon()));
    return tolerance;
  };

  PassContext context;  // dropout off: the golden was made with dropout 0
  for (int step = 0; step < golden.steps; ++step) {
    model.zero_gradients();
    const double loss = model.forward(context, true);
    INFO("step " << step << " loss " << loss << " vs " << losses[step]);
    REQUIRE(std::fabs(loss - losses[step]) <= activations.rtol * std::fabs(losses[step]));
    model.backward(context);
    if (step == 0) {
      test::check_golden_activations(model, golden, activations);
      const auto grads = model.gradients();
      for (const auto& [name, values] : grads) {
        const auto found = golden.tensors.find("grad." + name);
        REQUIRE(found != golden.tensors.end());
        REQUIRE_CLOSE("grad." + name, within(values, found->second, gradient_tolerance_for(name)));
      }
    }
    const UpdateStats stats = optimizer.step(golden.optimizer.learning_rate);
    INFO("grad norm " << stats.grad_norm << " vs " << norms[step]);
    // The span loss's gradient p − onehot rounds absolutely in float (p − 1 where an answer is
    // almost fitted), so a norm that has fallen far below the first step's keeps that rounding:
    // in float it is also held to 1e-6 of the first norm in absolute terms.
    const double norm_slack = double_precision ? 0.0 : 1e-6 * norms[0];
    REQUIRE(std::fabs(stats.grad_norm - norms[step]) <= gradients.rtol * norms[step] + norm_slack);
  }
  // Adam divides each gradient element by its own RMS, so an element whose gradient is below
  // the rounding noise of its computation moves by up to lr per step with a random sign, on
  // either side. Such elements are held to that bound: every element of a tensor whose true
  // gradient is zero (the last LayerNorm bias, the key bias, the QA bias: softmax and span loss
  // are shift-invariant), and elements below the gradient check's own resolution (1e-5 of
  // their tensor's largest in float, 1e-12 in double; a random configuration has some). The
  // rest are checked exactly in double; in float each update also carries the noise of
  // m/√v, so there 1% of lr per step is allowed on top.
  const double lr_steps = golden.optimizer.learning_rate * golden.steps;
  const double noise_fraction = double_precision ? 1e-12 : 1e-5;
  const auto final_params = model.parameters_exact();
  for (const auto& [name, values] : final_params) {
    const auto found = golden.tensors.find("param_after_steps." + name);
    REQUIRE(found != golden.tensors.end());
    const std::vector<double>& ref = found->second;
    const double atol = std::max(param_tolerance.atol(ref), double_precision ? 0.0 : 1e-2 * lr_steps);
    REQUIRE_CLOSE("param_after_steps." + name,
                  test::compare_close_each(values, ref, golden.adam_update_atol(name, atol, noise_fraction),
                                           param_tolerance.rtol));
  }
}

TEST_CASE("golden parity in double precision", "[golden]") {
  if (!test::have_golden()) return;
  run_parity(true, {1e-9, 1e-12, 1e-15}, {1e-8, 1e-11, 1e-15}, {1e-9, 1e-12, 1e-15});
}

TEST_CASE("golden parity in float", "[golden]") {
  if (!test::have_golden()) return;
  run_parity(false, {1e-5, 1e-6, 1e-8}, {1e-5, 1e-5, 1e-8}, {1e-5, 1e-5, 1e-8});
}

}  // namespace
}  // namespace bert
