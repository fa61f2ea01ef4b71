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
    if (double_precision) return tolerance;
    double grad_max = 0;
    for (double g : golden.tensors.at("grad." + name)) grad_max = std::max(grad_max, std::fabs(g));
    if (grad_max <= 1e-12 * golden.tensors.at("out.grad_norm_steps")[0])
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
    REQUIRE(std::fabs(stats.grad_norm - norms[step]) <= gradients.rtol * norms[step]);
  }
  // In float, Adam divides each gradient element by its own RMS, so an element whose gradient
  // is rounding noise can move by a visible fraction of lr; bound that by 1% of lr per step
  // (the double run checks every update exactly). Tensors whose true gradient is zero (the
  // last LayerNorm bias, the key bias: softmax and span loss are shift-invariant) receive pure
  // noise in float, so there the bound is the largest possible Adam move, lr per step.
  auto tolerance_for = [&](const std::string& name) {
    Tolerance tolerance = param_tolerance;
    if (double_precision) return tolerance;
    double grad_max = 0;
    for (double g : golden.tensors.at("grad." + name)) grad_max = std::max(grad_max, std::fabs(g));
    const bool zero_gradient = grad_max <= 1e-12 * norms[0];
    tolerance.atol_floor = (zero_gradient ? 1.0 : 1e-2) * golden.optimizer.learning_rate * golden.steps;
    return tolerance;
  };
  const auto final_params = model.parameters_exact();
  for (const auto& [name, values] : final_params) {
    const auto found = golden.tensors.find("param_after_steps." + name);
    REQUIRE(found != golden.tensors.end());
    REQUIRE_CLOSE("param_after_steps." + name,
                  within(values, found->second, tolerance_for(name)));
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
