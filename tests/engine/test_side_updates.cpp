// AdamW beside the next forward pass (OptimizerConfig::update_beside_forward): the optimizer
// queues the update stage by stage between begin/end_side_updates, marking each stage; the
// model's next forward waits for each stage's mark right before it first uses the stage's
// weights, and nothing else touches what the update reads or writes before the model joins.
// On the CPU (ops in call order) the result must be bit-identical to the in-order update; the
// call protocol is what keeps the CUDA backend's side stream correct (its emulation runs the
// side work only when waited for: tests/gpu/test_backend_gpu.cpp checks the values there).
#include <catch2/catch.hpp>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/strings.h"
#include "tests/engine/counting_backend.h"
#include "tests/engine/resume_test_util.h"

namespace bert {
namespace {

using test::CountingBackend;

struct SideRun {
  test::TrainedRun trained;
  std::vector<std::string> calls;
};

SideRun train_small(bool beside) {
  TrainConfig config = test::resume_train_config();  // 12 steps of 2 micro-batches, weight decay on
  config.optimizer.update_beside_forward = beside;
  CountingBackend backend(make_cpu_backend(false));
  SideRun run{test::train_resume_windows(backend, test::resume_config(), config, 5), {}};
  REQUIRE(run.trained.steps == 12);
  run.calls = backend.calls();
  return run;
}

// The forward pass as the model queues it, each stage's wait first.
std::vector<std::string> expected_forward(int layers) {
  std::vector<std::string> calls = {"wait_side_updates 0", "embeddings_forward"};
  for (int l = 0; l < layers; ++l) {
    calls.push_back("wait_side_updates " + std::to_string(l + 1));
    for (const char* op :
         {"matmul_forward", "attention_forward", "matmul_forward", "residual_layernorm_forward",
          "matmul_forward", "bias_activation_forward", "matmul_forward",
          "residual_layernorm_forward"})
      calls.push_back(op);
  }
  calls.push_back("wait_side_updates " + std::to_string(layers + 1));
  calls.push_back("matmul_forward");
  calls.push_back("qa_loss");
  return calls;
}

}  // namespace

TEST_CASE("AdamW beside the forward pass gives the in-order update's values bit for bit",
          "[engine][side_updates]") {
  const SideRun in_order = train_small(false), beside = train_small(true);
  REQUIRE(beside.trained.step_values == in_order.trained.step_values);
  REQUIRE(beside.trained.state == in_order.trained.state);
  // In order, nothing goes beside.
  for (const std::string& call : in_order.calls)
    REQUIRE_FALSE(starts_with(call, "begin_side_updates"));
}

TEST_CASE(
    "AdamW beside the forward pass: stages marked in forward order, each waited for before use",
    "[engine][side_updates]") {
  const int layers = test::resume_config().num_hidden_layers, stages = layers + 2;
  const std::vector<std::string> calls = train_small(true).calls;
  const std::vector<std::string> forward = expected_forward(layers);
  // What the main stream must not queue while the side work may run: anything that writes or
  // reads the gradients, weights or moments the update uses (the forward pass waits per stage).
  const std::set<std::string> forbidden = {"fill_zero",
                                           "grad_norm_and_clip",
                                           "adamw_update",
                                           "sum_squares",
                                           "download",
                                           "synchronize",
                                           "copy",
                                           "embeddings_backward",
                                           "matmul_backward",
                                           "attention_backward",
                                           "bias_activation_backward",
                                           "residual_layernorm_backward"};
  int updates = 0;
  for (size_t i = 0; i < calls.size(); ++i) {
    if (calls[i] != "begin_side_updates") continue;
    ++updates;
    CAPTURE(updates);
    // The update: two ranges (decayed, then not) per stage, each stage marked after its ranges.
    size_t at = i + 1;
    for (int stage = 0; stage < stages; ++stage) {
      REQUIRE(calls.at(at++) == "adamw_update");
      REQUIRE(calls.at(at++) == "adamw_update");
      REQUIRE(calls.at(at++) == "mark_side_updates " + std::to_string(stage));
    }
    REQUIRE(calls.at(at++) == "end_side_updates");
    if (updates == 12) break;  // the run's end: no forward follows
    // Then the next forward pass, waits in place, nothing forbidden before the first join.
    std::vector<std::string> seen;
    for (; at < calls.size() && calls[at] != "join_side_updates"; ++at) {
      INFO("call " << at << ": " << calls[at]);
      REQUIRE(forbidden.count(calls[at]) == 0);
      if (starts_with(calls[at], "wait_side_updates") ||
          calls[at].find("_forward") != std::string::npos || calls[at] == "qa_loss")
        seen.push_back(calls[at]);
    }
    REQUIRE(at < calls.size());
    REQUIRE(seen.size() >= forward.size());
    seen.resize(
        forward.size());  // the first forward; the step's second micro-batch follows the join
    REQUIRE(seen == forward);
  }
  REQUIRE(updates == 12);
}

}  // namespace bert
