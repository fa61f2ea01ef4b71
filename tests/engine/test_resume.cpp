// Resuming from a checkpoint continues the run bit-identically (losses, logged interval
// means, master weights and both AdamW moments), wherever it was interrupted: mid-epoch, on
// an epoch boundary, on a logging boundary; with dropout, accumulation, warmup and weight
// decay on. Also: stop requests, non-finite losses, and refusing a checkpoint of another run.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>

#include "core/error.h"
#include "core/file_io.h"
#include "engine/checkpoint_dirs.h"
#include "engine/trainer.h"
#include "engine/training_state.h"
#include "tests/engine/resume_test_util.h"

namespace bert {
namespace {

using test::TinyRun;

struct Trajectory {
  std::vector<double> step_losses;
  std::vector<double> logged_losses;  // progress.loss at logging steps
  std::vector<double> final_state;
};

// Bit-for-bit equality (== would also accept -0.0 for 0.0; NaN never occurs here).
bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

TrainHooks logging_hooks(Trajectory* out) {
  TrainHooks hooks;
  hooks.on_step = [out](const TrainProgress& p) {
    if (p.logging_step) out->logged_losses.push_back(p.loss);
  };
  return hooks;
}

Trajectory uninterrupted(const TrainConfig& config, const std::vector<Window>& windows) {
  TinyRun run(config, 5);
  Trajectory out;
  Trainer trainer(*run.model, *run.optimizer, config);
  out.step_losses = trainer.train(windows, logging_hooks(&out)).step_losses;
  out.final_state = run.state();
  return out;
}

// Stops after `stop_step` (saving a checkpoint into dir), then resumes in a new model that
// starts from other weights, as a new process would.
Trajectory interrupted(const TrainConfig& config, const std::vector<Window>& windows, int64_t stop_step,
                       const std::string& dir) {
  Trajectory out;
  std::string checkpoint;
  {
    TrainConfig first = config;
    first.stop_after_steps = stop_step;
    TinyRun run(first, 5);
    Trainer trainer(*run.model, *run.optimizer, first);
    TrainHooks hooks = logging_hooks(&out);
    hooks.on_checkpoint = [&](const TrainerState& state) {
      checkpoint = save_checkpoint(dir, state, *run.model, *run.optimizer, nullptr, 0);
    };
    const TrainSummary summary = trainer.train(windows, hooks);
    REQUIRE(summary.outcome == TrainOutcome::kStopAfterSteps);
    REQUIRE(summary.steps == stop_step);
    out.step_losses = summary.step_losses;
  }
  REQUIRE(checkpoint == join_path(dir, "checkpoint-" + std::to_string(stop_step)));
  TinyRun run(config, 999);  // other initial weights: the checkpoint must replace them all
  Trainer trainer(*run.model, *run.optimizer, config);
  trainer.resume(load_checkpoint(checkpoint, *run.model, *run.optimizer), checkpoint);
  const TrainSummary summary = trainer.train(windows, logging_hooks(&out));
  CHECK(summary.outcome == TrainOutcome::kCompleted);
  CHECK(summary.first_step == stop_step);
  out.step_losses.insert(out.step_losses.end(), summary.step_losses.begin(), summary.step_losses.end());
  out.final_state = run.state();
  return out;
}

TEST_CASE("a run resumed from a checkpoint is bit-identical to an uninterrupted one", "[resume]") {
  // 23 windows: 6 micro-batches, 3 steps of 2 per epoch. 27: 7 micro-batches, so each epoch's
  // 4th step takes the one left over.
  const size_t window_count = GENERATE(23, 27);
  const std::vector<Window> windows = test::resume_windows(window_count);
  const TrainConfig config = test::resume_train_config();
  const Trajectory reference = uninterrupted(config, windows);
  REQUIRE(reference.step_losses.size() == 12);
  REQUIRE(reference.logged_losses.size() == 3);
  // With 23 windows steps 3 and 9 end an epoch (with 27: 4 and 8), 4 and 8 a logging interval;
  // 1, 5 and 11 are mid-epoch.
  const int64_t stop_step = GENERATE(1, 3, 4, 5, 8, 9, 11);
  INFO(window_count << " windows, interrupted after step " << stop_step);
  const std::string dir = test::fresh_temp_dir("bert_test_resume_" + std::to_string(window_count) +
                                               "_" + std::to_string(stop_step));
  const Trajectory resumed = interrupted(config, windows, stop_step, dir);
  CHECK(same_bits(resumed.step_losses, reference.step_losses));
  CHECK(same_bits(resumed.logged_losses, reference.logged_losses));
  CHECK(same_bits(resumed.final_state, reference.final_state));
  std::filesystem::remove_all(dir);
}

TEST_CASE("the trajectory depends on the data position and dropout counter that are restored", "[resume]") {
  // Guards the test above against passing vacuously: resuming with a wrong position or
  // micro-step counter must change the losses.
  const std::vector<Window> windows = test::resume_windows(23);
  const TrainConfig config = test::resume_train_config();
  const Trajectory reference = uninterrupted(config, windows);
  const std::string dir = test::fresh_temp_dir("bert_test_resume_tamper");
  interrupted(config, windows, 5, dir);
  for (int tamper = 0; tamper < 2; ++tamper) {
    TinyRun run(config, 5);
    const std::string checkpoint = join_path(dir, "checkpoint-5");
    TrainerState state = load_checkpoint(checkpoint, *run.model, *run.optimizer);
    if (tamper == 0) state.data.index -= config.batch_size;  // one batch back
    else state.micro_step += 1;
    Trainer trainer(*run.model, *run.optimizer, config);
    trainer.resume(state, checkpoint);
    const std::vector<double> losses = trainer.train(windows, TrainHooks{}).step_losses;
    REQUIRE(losses.size() == 7);
    CHECK(losses[0] != reference.step_losses[5]);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("a stop request ends the run after the current step with a checkpoint", "[resume]") {
  const std::vector<Window> windows = test::resume_windows(23);
  TrainConfig config = test::resume_train_config();
  config.save_steps = 4;
  TinyRun run(config, 5);
  Trainer trainer(*run.model, *run.optimizer, config);
  std::vector<int64_t> saved;
  int64_t steps_seen = 0;
  TrainHooks hooks;
  hooks.on_step = [&](const TrainProgress& p) { steps_seen = p.step; };
  hooks.on_checkpoint = [&](const TrainerState& state) { saved.push_back(state.global_step); };
  // Statistics are read back one step late: when step 6 has been reported, step 7 is already
  // queued, and the request (polled after queueing a step) lets that step finish.
  SECTION("between save steps") {
    hooks.stop_requested = [&] { return steps_seen >= 6; };
    const TrainSummary summary = trainer.train(windows, hooks);
    CHECK(summary.outcome == TrainOutcome::kStopRequested);
    CHECK(summary.steps == 7);
    CHECK(saved == std::vector<int64_t>{4, 7});
  }
  SECTION("on a save step: one checkpoint, not two") {
    hooks.stop_requested = [&] { return steps_seen >= 7; };
    CHECK(trainer.train(windows, hooks).steps == 8);
    CHECK(saved == std::vector<int64_t>{4, 8});
  }
  SECTION("at the last step the run simply completes") {
    hooks.stop_requested = [] { return true; };
    config.max_steps = 1;
    Trainer one_step(*run.model, *run.optimizer, config);
    const TrainSummary summary = one_step.train(windows, hooks);
    CHECK(summary.outcome == TrainOutcome::kCompleted);
    CHECK(saved == std::vector<int64_t>{1});  // the last step's checkpoint only, not a second for the stop
  }
}

TEST_CASE("non-finite losses skip the update; too many in a row stop the run", "[resume]") {
  const std::vector<Window> windows = test::resume_windows(23);
  TrainConfig config = test::resume_train_config();
  config.warmup_steps = 0;
  config.optimizer.learning_rate = 1e30;  // the first update blows the weights up
  config.optimizer.max_grad_norm = 0;
  std::vector<TrainProgress> steps;
  TrainHooks hooks;
  hooks.on_step = [&](const TrainProgress& p) { steps.push_back(p); };

  SECTION("stops after max_consecutive_nonfinite skips, naming the cause") {
    config.max_consecutive_nonfinite = 3;
    TinyRun run(config, 5);
    Trainer trainer(*run.model, *run.optimizer, config);
    std::vector<double> after_first;
    hooks.on_step = [&](const TrainProgress& p) {
      steps.push_back(p);
      if (p.step == 1) after_first = run.backend->download(run.model->master_params());
      else CHECK(same_bits(run.backend->download(run.model->master_params()), after_first));  // skipped: unchanged
    };
    CHECK_THROWS_WITH(trainer.train(windows, hooks),
                      Catch::Contains("at step 4: 3 consecutive steps") && Catch::Contains("--learning_rate"));
    // Step 5 was queued before step 4's numbers came back: it finishes (skipped too), then the
    // run stops.
    REQUIRE(steps.size() == 5);
    CHECK_FALSE(steps[0].update_skipped);
    for (int i = 1; i < 5; ++i) {
      CHECK(steps[i].update_skipped);
      CHECK_FALSE(std::isfinite(steps[i].step_loss));
      CHECK(steps[i].consecutive_skipped == i);
      CHECK(steps[i].skipped_updates == i);
    }
    CHECK(run.optimizer->steps_done() == 1);
    CHECK(trainer.state().optimizer_steps == 1);  // the state's copy is the optimizer's count
    CHECK(trainer.state().skipped_updates == 4);
  }
  SECTION("with the limit off every step runs, counting every skip, but the blown-up model never ends it") {
    config.max_consecutive_nonfinite = 0;
    TinyRun run(config, 5);
    Trainer trainer(*run.model, *run.optimizer, config);
    // The parameters are finite (near 1e30) but give a non-finite loss: not a result to save.
    CHECK_THROWS_AS(trainer.train(windows, hooks), TrainingDiverged);
    REQUIRE(steps.size() == 12);
    CHECK(trainer.state().global_step == 12);
    CHECK(trainer.state().skipped_updates == 11);
    CHECK(run.optimizer->steps_done() == 1);
    CHECK(trainer.state().optimizer_steps == 1);
    CHECK(std::isnan(steps.back().loss));  // no finite loss in the last logging interval
    CHECK(find_nonfinite_parameter(*run.model).name.empty());
  }
  SECTION("a checkpoint is never taken of parameters that hold NaN") {
    config.max_consecutive_nonfinite = 0;
    config.save_steps = 2;
    TinyRun run(config, 5);
    std::map<std::string, std::vector<float>> params = run.model->parameters();
    params.begin()->second[0] = std::numeric_limits<float>::quiet_NaN();
    run.model->set_parameters(params);
    Trainer trainer(*run.model, *run.optimizer, config);
    int checkpoints = 0;
    hooks.on_checkpoint = [&](const TrainerState&) { ++checkpoints; };
    CHECK_THROWS_WITH(trainer.train(windows, hooks),
                      Catch::Contains("at step 2") && Catch::Contains("parameter \"" + params.begin()->first) &&
                          Catch::Contains("1 non-finite values"));
    CHECK(checkpoints == 0);
  }
}

TEST_CASE("a checkpoint of another run is refused, naming the field", "[resume]") {
  const std::vector<Window> windows = test::resume_windows(23);
  const TrainConfig config = test::resume_train_config();
  const std::string dir = test::fresh_temp_dir("bert_test_resume_refuse");
  interrupted(config, windows, 2, dir);
  const std::string checkpoint = join_path(dir, "checkpoint-2");

  auto resume_with = [&](const TrainConfig& other, const std::vector<Window>& data) {
    TinyRun run(other, 5);
    Trainer trainer(*run.model, *run.optimizer, other);
    trainer.resume(load_checkpoint(checkpoint, *run.model, *run.optimizer), checkpoint);
    trainer.train(data, TrainHooks{});
  };
  CHECK_THROWS_WITH(resume_with(config, test::resume_windows(23, 1)), Catch::Contains("data_fingerprint"));
  CHECK_THROWS_WITH(resume_with(config, test::resume_windows(24)), Catch::Contains("num_windows"));
  TrainConfig other = config;
  other.seed = 78;
  CHECK_THROWS_WITH(resume_with(other, windows), Catch::Contains("seed"));
  other = config;
  other.max_steps = 13;
  CHECK_THROWS_WITH(resume_with(other, windows), Catch::Contains("total_steps"));
  other = config;
  other.optimizer.learning_rate = 1e-3;
  CHECK_THROWS_WITH(resume_with(other, windows), Catch::Contains("learning_rate"));
  other = config;
  other.batch_size = 3;
  CHECK_THROWS_AS(resume_with(other, windows), InputError);
  other = config;
  other.data_seed = config.data_seed + 1;
  CHECK_THROWS_WITH(resume_with(other, windows), Catch::Contains("data_seed"));
  other = config;
  other.sampling = TrainSampling::kGroupByLength;
  CHECK_THROWS_WITH(resume_with(other, windows), Catch::Contains("train_sampling_strategy"));
  other.sampling = TrainSampling::kSequential;
  CHECK_THROWS_WITH(resume_with(other, windows), Catch::Contains("sequential"));
  // Another model shape: the training tensors do not fit.
  BertConfig wider = test::resume_config();
  wider.intermediate_size = 16;
  TinyRun run(config, 5, wider);
  CHECK_THROWS_WITH(load_checkpoint(checkpoint, *run.model, *run.optimizer),
                    Catch::Contains("training_state.safetensors") && Catch::Contains("intermediate.dense.weight"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bert
