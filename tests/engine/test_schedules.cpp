// transformers' learning-rate schedules (--lr_scheduler_type, --lr_scheduler_kwargs) against values
// computed by hand and against transformers' own (tests/fixtures/lr-schedules),
// the save/eval strategies (--save_strategy, --eval_strategy) of the trainer, evaluation during
// training leaving the trajectory untouched, the run's mean loss across a resume, and the
// schedule recorded in (and checked against) checkpoints.
#include <catch2/catch.hpp>
#include <simdjson.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <set>

#include "core/error.h"
#include "core/file_io.h"
#include "engine/checkpoint_dirs.h"
#include "engine/evaluator.h"
#include "engine/lr_schedule.h"
#include "engine/optimizer.h"
#include "engine/trainer.h"
#include "engine/training_state.h"
#include "tests/engine/resume_test_util.h"
#include "tests/test_support.h"

namespace bert {
namespace {

using test::TinyRun;

double lr(LrSchedule schedule, int64_t step) { return schedule_lr(schedule, 1.0, step, 10, 110); }

TEST_CASE("cosine, constant and constant_with_warmup match transformers' formulas", "[schedule]") {
  // get_cosine_schedule_with_warmup(num_warmup_steps=10, num_training_steps=110, num_cycles=0.5):
  // step/10 during warmup, then 0.5 * (1 + cos(pi * (step - 10) / 100)).
  CHECK(lr(LrSchedule::kCosine, 0) == 0.0);
  CHECK(lr(LrSchedule::kCosine, 5) == Approx(0.5).epsilon(1e-15));
  CHECK(lr(LrSchedule::kCosine, 10) == Approx(1.0).epsilon(1e-15));
  CHECK(lr(LrSchedule::kCosine, 35) == Approx(0.8535533905932737).epsilon(1e-14));  // (1 + 1/sqrt 2) / 2
  CHECK(lr(LrSchedule::kCosine, 60) == Approx(0.5).epsilon(1e-14));
  CHECK(lr(LrSchedule::kCosine, 85) == Approx(0.14644660940672627).epsilon(1e-13));  // (1 - 1/sqrt 2) / 2
  CHECK(std::fabs(lr(LrSchedule::kCosine, 110)) < 1e-16);
  CHECK(lr(LrSchedule::kCosine, 130) == Approx(0.0).margin(0.1));  // past the end: cos climbs back, clamped >= 0
  CHECK(lr(LrSchedule::kCosine, 130) >= 0.0);
  // get_constant_schedule: no warmup at all, whatever warmup_steps says.
  CHECK(lr(LrSchedule::kConstant, 0) == 1.0);
  CHECK(lr(LrSchedule::kConstant, 109) == 1.0);
  // get_constant_schedule_with_warmup: step/10, then 1.
  CHECK(lr(LrSchedule::kConstantWithWarmup, 0) == 0.0);
  CHECK(lr(LrSchedule::kConstantWithWarmup, 3) == Approx(0.3).epsilon(1e-15));
  CHECK(lr(LrSchedule::kConstantWithWarmup, 10) == 1.0);
  CHECK(lr(LrSchedule::kConstantWithWarmup, 500) == 1.0);
  // linear is linear_schedule_lr; the base rate scales every schedule.
  CHECK(lr(LrSchedule::kLinear, 60) == Approx(0.5));
  CHECK(schedule_lr(LrSchedule::kCosine, 3e-5, 35, 10, 110) == Approx(3e-5 * 0.8535533905932737).epsilon(1e-14));
  // No warmup: the first step already runs at the base rate.
  CHECK(schedule_lr(LrSchedule::kCosine, 2.0, 0, 0, 4) == 2.0);

  LrSchedule parsed = LrSchedule::kLinear;
  CHECK(parse_lr_schedule("constant_with_warmup", &parsed));
  CHECK(parsed == LrSchedule::kConstantWithWarmup);
  CHECK(parse_lr_schedule("cosine", &parsed));
  CHECK(std::string(lr_schedule_name(parsed)) == "cosine");
  CHECK_FALSE(parse_lr_schedule("greedy", &parsed));
  IntervalStrategy strategy = IntervalStrategy::kNo;
  CHECK(parse_interval_strategy("epoch", &strategy));
  CHECK(strategy == IntervalStrategy::kEpoch);
  CHECK_FALSE(parse_interval_strategy("best", &strategy));
}

// Every step of each case (and 6 past the end) as transformers' get_scheduler + torch's LambdaLR
// gave it (make_schedules.py). The factors are computed in transformers' order of operations: on
// the machine that made the fixture every rate is the same double as Python's (both call glibc's
// cos and sqrt); 1e-14 relative leaves room for another libm, far below any formula's error.
TEST_CASE("every schedule and its kwargs give transformers' rate at every step", "[schedule]") {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  REQUIRE(parser.load(test::fixture_path("lr-schedules/schedules.json")).get(root) == simdjson::SUCCESS);
  std::set<std::string> names;
  size_t checked = 0;
  for (const simdjson::dom::element c : root["cases"].get_array()) {
    const std::string name(c["name"].get_string().value());
    const std::string kwargs(c["kwargs"].get_string().value());
    const double learning_rate = c["learning_rate"].get_double().value();
    const int64_t warmup = c["warmup_steps"].get_int64().value(), total = c["total_steps"].get_int64().value();
    std::vector<std::string> notes;
    const LrScheduleConfig config = parse_lr_schedule_config(name, kwargs, learning_rate, &notes);
    CHECK(notes.empty());
    names.insert(name);
    int64_t step = 0;
    for (const simdjson::dom::element expected : c["lrs"].get_array()) {
      INFO(name << " " << kwargs << " warmup " << warmup << " total " << total << " step " << step);
      CHECK(schedule_lr(config, learning_rate, step, warmup, total) ==
            Approx(expected.get_double().value()).epsilon(1e-14).margin(1e-300));
      ++step, ++checked;
    }
    CHECK(step == total + 6);
  }
  CHECK(names.size() == 10);  // every schedule implemented
  CHECK(checked > 1500);
}

// ReduceLROnPlateau as transformers builds it (get_scheduler) and Trainer steps it after each
// evaluation, for the metrics of make_schedules.py's PLATEAUS.
TEST_CASE("reduce_lr_on_plateau follows torch's ReduceLROnPlateau evaluation by evaluation", "[schedule]") {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  REQUIRE(parser.load(test::fixture_path("lr-schedules/schedules.json")).get(root) == simdjson::SUCCESS);
  int cases = 0;
  for (const simdjson::dom::element c : root["plateaus"].get_array()) {
    const std::string kwargs(c["kwargs"].get_string().value());
    const double learning_rate = c["learning_rate"].get_double().value();
    std::vector<std::string> notes;
    const LrScheduleConfig config = parse_lr_schedule_config("reduce_lr_on_plateau", kwargs, learning_rate, &notes);
    PlateauState state = plateau_start(learning_rate);
    CHECK(schedule_lr(config, learning_rate, 7, 3, 10) == learning_rate);  // not a function of the step
    std::vector<double> metrics, expected;
    for (const simdjson::dom::element m : c["metrics"].get_array()) metrics.push_back(m.get_double().value());
    for (const simdjson::dom::element r : c["lrs"].get_array()) expected.push_back(r.get_double().value());
    REQUIRE(metrics.size() == expected.size());
    for (size_t i = 0; i < metrics.size(); ++i) {
      plateau_step(config.args, metrics[i], &state);
      INFO(kwargs << " evaluation " << i);
      CHECK(state.learning_rate == Approx(expected[i]).epsilon(1e-14));
    }
    CHECK(state.evaluations == int64_t(metrics.size()));
    ++cases;
  }
  CHECK(cases == 5);
}

TEST_CASE("--lr_scheduler_kwargs: what transformers refuses is refused, naming the key", "[schedule]") {
  std::vector<std::string> notes;
  const auto parse = [&](const std::string& name, const std::string& kwargs) {
    return parse_lr_schedule_config(name, kwargs, 5e-5, &notes);
  };
  // One spelling for a checkpoint to compare: keys sorted, integers kept, floats as Python prints them.
  CHECK(parse("warmup_stable_decay", R"({"min_lr_ratio": 1e-1, "num_decay_steps": 30, "decay_type": "1-sqrt"})")
            .kwargs_json == R"({"decay_type": "1-sqrt", "min_lr_ratio": 0.1, "num_decay_steps": 30})");
  CHECK(parse("cosine", "").kwargs_json == "{}");
  CHECK(parse("cosine", " {} ").kwargs_json == "{}");
  // min_lr is a rate relative to --learning_rate; null is Python's None (not given).
  CHECK(parse("cosine_with_min_lr", R"({"min_lr": 1e-6, "min_lr_rate": null})").args.min_lr_rate == Approx(0.02));
  CHECK(std::isnan(parse("inverse_sqrt", R"({"timescale": null})").args.timescale));
  CHECK(notes.empty());
  // constant and constant_with_warmup ignore their kwargs, as get_scheduler does: a note, no error.
  CHECK(parse("constant", R"({"num_cycles": 3})").kwargs_json == "{}");
  REQUIRE(notes.size() == 1);
  CHECK_THAT(notes[0], Catch::Contains("{\"num_cycles\": 3} is ignored by --lr_scheduler_type constant"));

  const auto refused = [&](const std::string& name, const std::string& kwargs, const std::string& message) {
    INFO(name << " " << kwargs);
    CHECK_THROWS_WITH(parse(name, kwargs), Catch::Contains(message));
  };
  refused("linear", R"({"num_cycles": 2})", "--lr_scheduler_kwargs: num_cycles: not an argument of linear, which takes none");
  refused("cosine", R"({"power": 2})", "power: not an argument of cosine, which takes num_cycles");
  refused("cosine", R"({"num_cycles": 1, "num_cycles": 2})", "num_cycles: given twice");
  refused("cosine", R"({"num_cycles": "two"})", "num_cycles: expected a finite number, found \"two\"");
  refused("cosine", R"({"num_cycles": null})", "num_cycles: expected a finite number, found null");
  refused("cosine", R"([1])", "--lr_scheduler_kwargs: expected a JSON object");
  refused("cosine", R"({"num_cycles": )", "--lr_scheduler_kwargs: not valid JSON");
  refused("polynomial", R"({"lr_end": 5e-5})", "lr_end: lr_end (5e-05) must be smaller than the initial rate");
  refused("polynomial", R"({"power": -1})", "power: expected a number >= 0.0 for polynomial, found -1.0");
  refused("inverse_sqrt", R"({"timescale": 0})", "timescale: expected a number > 0");
  refused("cosine_with_min_lr", "{}", "min_lr: cosine_with_min_lr needs one of min_lr or min_lr_rate");
  refused("cosine_warmup_with_min_lr", R"({"min_lr": 0, "min_lr_rate": 0})", "takes only one of min_lr or min_lr_rate");
  refused("cosine_with_min_lr", R"({"min_lr_rate": -0.1})", "min_lr_rate: expected a number >= 0.0");
  refused("warmup_stable_decay", "{}", "num_decay_steps: warmup_stable_decay needs the length of its decay");
  refused("warmup_stable_decay", R"({"num_decay_steps": 5, "warmup_type": "exp"})",
          "warmup_type: expected 'linear', 'cosine' or '1-sqrt', found \"exp\"");
  refused("greedy", "", "--lr_scheduler_type: greedy: not implemented");
  refused("reduce_lr_on_plateau", R"({"factor": 1})", "factor: expected a number < 1.0");
  refused("reduce_lr_on_plateau", R"({"patience": 2.5})", "patience: expected a whole number, found 2.5");
  refused("reduce_lr_on_plateau", R"({"mode": "maximum"})", "mode: expected 'min' or 'max', found \"maximum\"");
  refused("reduce_lr_on_plateau", R"({"threshold_mode": "relative"})", "expected 'rel' or 'abs'");
  refused("cosine_typo", "", "--lr_scheduler_type: expected one of linear, cosine, cosine_with_restarts");
}

TEST_CASE("a checkpoint records the schedule's kwargs, and a resume with others is refused", "[schedule]") {
  TrainerState saved;
  saved.total_steps = 10;
  saved.batch_size = 4;
  saved.gradient_accumulation_steps = 1;
  saved.num_windows = 23;
  saved.lr_scheduler_type = "cosine_with_min_lr";
  saved.lr_scheduler_kwargs = R"({"min_lr_rate": 0.1})";
  const std::string json = trainer_state_to_json(saved);
  const TrainerState read = parse_trainer_state(json, "trainer_state.json");
  CHECK(read.lr_scheduler_kwargs == saved.lr_scheduler_kwargs);
  CHECK_NOTHROW(check_resume_compatible(read, saved, "checkpoint-4"));
  TrainerState other = saved;
  other.lr_scheduler_kwargs = R"({"min_lr_rate": 0.2})";
  CHECK_THROWS_WITH(check_resume_compatible(read, other, "checkpoint-4"),
                    Catch::Contains("checkpoint-4: lr_scheduler_kwargs") && Catch::Contains("{\"min_lr_rate\": 0.1}"));
  // Written before the field existed: no kwargs, the only schedules there were took none.
  std::string older = json;
  const size_t at = older.find("  \"lr_scheduler_kwargs\"");
  REQUIRE(at != std::string::npos);
  older.erase(at, older.find('\n', at) + 1 - at);
  CHECK(parse_trainer_state(older, "old.json").lr_scheduler_kwargs == "{}");
}

TEST_CASE("the trainer follows the configured schedule", "[schedule]") {
  const std::vector<Window> windows = test::resume_windows(23);
  TrainConfig config = test::resume_train_config();
  config.lr_schedule.type = LrSchedule::kCosine;
  TinyRun run(config, 5);
  Trainer trainer(*run.model, *run.optimizer, config);
  std::vector<double> rates;
  TrainHooks hooks;
  hooks.on_step = [&](const TrainProgress& p) { rates.push_back(p.learning_rate); };
  trainer.train(windows, hooks);
  REQUIRE(rates.size() == 12);
  for (int64_t step = 0; step < 12; ++step)
    CHECK(rates[step] == schedule_lr(LrSchedule::kCosine, 3e-3, step, 3, 12));
  CHECK(rates[2] == Approx(2e-3));  // warmup 2/3
  CHECK(rates[3] == 3e-3);          // the peak
  CHECK(trainer.state().lr_scheduler_type == "cosine");
}

// On a host backend a step is computed inside the trainer's queue call: its progress line (and
// the windows/s in it) must be reported before the next step is computed, or each step's time
// would be the next step's and the last step's would be about zero.
TEST_CASE("on the CPU each step is reported before the next one is computed", "[schedule]") {
  const std::vector<Window> windows = test::resume_windows(23);
  TrainConfig config = test::resume_train_config();
  TinyRun run(config, 5);
  Trainer trainer(*run.model, *run.optimizer, config);
  std::vector<int64_t> reported, applied;
  TrainHooks hooks;
  hooks.on_step = [&](const TrainProgress& p) {
    reported.push_back(p.step);
    // The update count as the backend holds it now: the steps computed so far.
    const Tensor count = slice(run.optimizer->step_stats(), kStepUpdatesDone, 1);
    applied.push_back(int64_t(run.backend->download(count)[0]));
  };
  trainer.train(windows, hooks);
  REQUIRE(reported.size() == 12);
  CHECK(applied == reported);
}

struct StrategyRun {
  std::vector<double> step_losses, final_state;
  std::vector<int64_t> evaluated, saved;
  double mean_loss = 0;
};

// 23 windows, batch 4, no accumulation: 6 steps per epoch, 10 steps in all.
StrategyRun run_with(IntervalStrategy eval, IntervalStrategy save, bool predict_in_hook) {
  const std::vector<Window> windows = test::resume_windows(23);
  TrainConfig config = test::resume_train_config();
  config.gradient_accumulation_steps = 1;
  config.max_steps = 10;
  config.eval_strategy = eval;
  config.eval_steps = 4;
  config.save_strategy = save;
  config.save_steps = 3;
  TinyRun run(config, 5);
  Trainer trainer(*run.model, *run.optimizer, config);
  StrategyRun out;
  TrainHooks hooks;
  hooks.on_evaluate = [&](const TrainerState& state) {
    out.evaluated.push_back(state.global_step);
    if (predict_in_hook) {  // inference on the model between two training steps
      const WindowPredictions p = predict_windows(*run.model, windows, 4);
      REQUIRE(p.start_logits.size() == windows.size());
    }
  };
  hooks.on_checkpoint = [&](const TrainerState& state) { out.saved.push_back(state.global_step); };
  const TrainSummary summary = trainer.train(windows, hooks);
  out.step_losses = summary.step_losses;
  out.final_state = run.state();
  out.mean_loss = summary.mean_loss;
  return out;
}

TEST_CASE("eval and save strategies: by steps, at epoch ends, or never", "[schedule]") {
  const StrategyRun steps = run_with(IntervalStrategy::kSteps, IntervalStrategy::kSteps, false);
  // Every interval, and after the last step (10) as transformers' DefaultFlowCallback does.
  CHECK(steps.evaluated == std::vector<int64_t>{4, 8, 10});
  CHECK(steps.saved == std::vector<int64_t>{3, 6, 9, 10});
  const StrategyRun epochs = run_with(IntervalStrategy::kEpoch, IntervalStrategy::kEpoch, false);
  CHECK(epochs.evaluated == std::vector<int64_t>{6, 10});  // the epoch end, then the run's end
  CHECK(epochs.saved == std::vector<int64_t>{6, 10});      // likewise: the run ends mid-epoch
  const StrategyRun none = run_with(IntervalStrategy::kNo, IntervalStrategy::kNo, false);
  CHECK(none.evaluated.empty());
  CHECK(none.saved.empty());
  // Where it saves or evaluates never changes what it trains.
  CHECK(std::memcmp(steps.step_losses.data(), none.step_losses.data(), 10 * sizeof(double)) == 0);
  CHECK(epochs.final_state == none.final_state);
}

// A run of 10 steps (6 per epoch) with intervals as transformers takes them.
StrategyRun run_intervals(IntervalStrategy eval, double eval_steps, double save_steps, double eval_delay) {
  const std::vector<Window> windows = test::resume_windows(23);
  TrainConfig config = test::resume_train_config();
  config.gradient_accumulation_steps = 1;
  config.max_steps = 10;
  config.eval_strategy = eval;
  config.eval_steps = eval_steps;
  config.eval_delay = eval_delay;
  config.save_strategy = IntervalStrategy::kSteps;
  config.save_steps = save_steps;
  TinyRun run(config, 5);
  Trainer trainer(*run.model, *run.optimizer, config);
  StrategyRun out;
  TrainHooks hooks;
  hooks.on_evaluate = [&](const TrainerState& state) { out.evaluated.push_back(state.global_step); };
  hooks.on_checkpoint = [&](const TrainerState& state) { out.saved.push_back(state.global_step); };
  trainer.train(windows, hooks);
  return out;
}

TEST_CASE("intervals below 1 are fractions of the run's steps; eval_delay holds evaluations back", "[schedule]") {
  // TrainerState.compute_steps: ceil(max_steps × ratio).
  CHECK(interval_steps(0.25, 10) == 3);
  CHECK(interval_steps(0.1, 10) == 1);
  CHECK(interval_steps(0.5, 7) == 4);
  CHECK(interval_steps(1, 10) == 1);
  CHECK(interval_steps(40, 10) == 40);
  CHECK(interval_steps(0, 10) == 0);
  CHECK(interval_steps(-1, 10) == -1);
  const StrategyRun ratios = run_intervals(IntervalStrategy::kSteps, 0.25, 0.5, 0);
  CHECK(ratios.evaluated == std::vector<int64_t>{3, 6, 9, 10});
  CHECK(ratios.saved == std::vector<int64_t>{5, 10});
  // DefaultFlowCallback: eval_delay <= global_step (steps), the last step's evaluation included.
  CHECK(run_intervals(IntervalStrategy::kSteps, 0.25, 0.5, 6).evaluated == std::vector<int64_t>{6, 9, 10});
  CHECK(run_intervals(IntervalStrategy::kSteps, 3, 0.5, 10).evaluated == std::vector<int64_t>{10});
  CHECK(run_intervals(IntervalStrategy::kSteps, 3, 0.5, 10.5).evaluated.empty());
  // ... and eval_delay <= epoch (epoch): the first epoch ends at step 6 (1.0), the run at 10 (1.67).
  CHECK(run_intervals(IntervalStrategy::kEpoch, 3, 0.5, 0).evaluated == std::vector<int64_t>{6, 10});
  CHECK(run_intervals(IntervalStrategy::kEpoch, 3, 0.5, 1).evaluated == std::vector<int64_t>{6, 10});
  CHECK(run_intervals(IntervalStrategy::kEpoch, 3, 0.5, 1.5).evaluated == std::vector<int64_t>{10});
}

TEST_CASE("evaluating during training leaves the model in training state: the same trajectory", "[schedule]") {
  const StrategyRun plain = run_with(IntervalStrategy::kNo, IntervalStrategy::kNo, false);
  const StrategyRun evaluated = run_with(IntervalStrategy::kSteps, IntervalStrategy::kNo, true);
  REQUIRE(evaluated.evaluated == std::vector<int64_t>{4, 8, 10});
  REQUIRE(plain.step_losses.size() == 10);
  CHECK(std::memcmp(evaluated.step_losses.data(), plain.step_losses.data(), 10 * sizeof(double)) == 0);
  CHECK(evaluated.final_state == plain.final_state);
  // The mean loss of the run is the mean of its step losses (Hugging Face's train_loss).
  const double mean = std::accumulate(plain.step_losses.begin(), plain.step_losses.end(), 0.0) / 10.0;
  CHECK(plain.mean_loss == Approx(mean).epsilon(1e-14));
}

TEST_CASE("checkpoints record the schedule and the run's loss total", "[schedule]") {
  const std::vector<Window> windows = test::resume_windows(23);
  TrainConfig config = test::resume_train_config();
  config.lr_schedule.type = LrSchedule::kConstantWithWarmup;
  const std::string dir = test::fresh_temp_dir("bert_test_schedules");
  double uninterrupted_mean = 0;
  {
    TinyRun run(config, 5);
    uninterrupted_mean = Trainer(*run.model, *run.optimizer, config).train(windows, TrainHooks{}).mean_loss;
  }
  std::string checkpoint;
  {
    TrainConfig first = config;
    first.stop_after_steps = 5;
    TinyRun run(first, 5);
    Trainer trainer(*run.model, *run.optimizer, first);
    TrainHooks hooks;
    hooks.on_checkpoint = [&](const TrainerState& state) {
      checkpoint = save_checkpoint(dir, state, *run.model, *run.optimizer, nullptr, 0);
    };
    trainer.train(windows, hooks);
  }
  const TrainerState saved = read_trainer_state(checkpoint);
  CHECK(saved.lr_scheduler_type == "constant_with_warmup");
  CHECK(saved.total_loss_steps == 5);
  {  // resumed: the mean covers the whole run, not only the steps after the checkpoint
    TinyRun run(config, 999);
    Trainer trainer(*run.model, *run.optimizer, config);
    trainer.resume(load_checkpoint(checkpoint, *run.model, *run.optimizer), checkpoint);
    const TrainSummary summary = trainer.train(windows, TrainHooks{});
    CHECK(summary.mean_loss == Approx(uninterrupted_mean).epsilon(1e-12));
    CHECK(summary.mean_loss_first_step == 0);
  }
  {  // another schedule: refused, naming the field
    TrainConfig other = config;
    other.lr_schedule.type = LrSchedule::kCosine;
    TinyRun run(other, 5);
    Trainer trainer(*run.model, *run.optimizer, other);
    trainer.resume(load_checkpoint(checkpoint, *run.model, *run.optimizer), checkpoint);
    CHECK_THROWS_WITH(trainer.train(windows, TrainHooks{}),
                      Catch::Contains("lr_scheduler_type") && Catch::Contains("constant_with_warmup"));
  }
  std::filesystem::remove_all(dir);
}

// 23 windows, batch 4: 10 steps, evaluated every 2; the metric of evaluation k is metrics[k].
struct PlateauRun {
  std::vector<double> rates;
  std::string checkpoint;
};
PlateauRun run_plateau(const TrainConfig& config, const std::vector<double>& metrics, const std::string& dir,
                       const std::string& resume_from) {
  const std::vector<Window> windows = test::resume_windows(23);
  TinyRun run(config, 5);
  Trainer trainer(*run.model, *run.optimizer, config);
  if (!resume_from.empty()) trainer.resume(load_checkpoint(resume_from, *run.model, *run.optimizer), resume_from);
  PlateauRun out;
  size_t evaluated = 0;
  TrainHooks hooks;
  hooks.on_step = [&](const TrainProgress& p) { out.rates.push_back(p.learning_rate); };
  hooks.on_evaluate = [&](const TrainerState& state) { evaluated = size_t(state.global_step / 2 - 1); };
  hooks.evaluation_metric = [&] { return metrics.at(evaluated); };
  hooks.on_checkpoint = [&](const TrainerState& state) {
    if (!dir.empty()) out.checkpoint = save_checkpoint(dir, state, *run.model, *run.optimizer, nullptr, 0);
  };
  trainer.train(windows, hooks);
  return out;
}

TEST_CASE("reduce_lr_on_plateau lowers the rate after evaluations, across a resume", "[schedule]") {
  TrainConfig config = test::resume_train_config();
  config.gradient_accumulation_steps = 1;
  config.max_steps = 10;
  config.eval_strategy = IntervalStrategy::kSteps;
  config.eval_steps = 2;
  config.save_strategy = IntervalStrategy::kNo;
  std::vector<std::string> notes;
  config.lr_schedule = parse_lr_schedule_config("reduce_lr_on_plateau", R"({"mode": "max", "patience": 0, "factor": 0.5})",
                                                config.optimizer.learning_rate, &notes);
  // Evaluations after steps 2, 4, 6, 8, 10: better, worse (halve), worse (halve), better, worse.
  const std::vector<double> metrics = {50, 40, 45, 60, 55};
  const double base = config.optimizer.learning_rate;
  const PlateauRun whole = run_plateau(config, metrics, "", "");
  REQUIRE(whole.rates.size() == 10);
  const std::vector<double> expected = {base, base, base, base, base / 2, base / 2, base / 4, base / 4, base / 4, base / 4};
  CHECK(whole.rates == expected);  // no warmup: the configured warmup does not apply
  // Stopped after step 5 (its checkpoint holds the state after 2 evaluations), then resumed.
  const std::string dir = test::fresh_temp_dir("bert_test_schedules_plateau");
  TrainConfig first = config;
  first.stop_after_steps = 5;
  const PlateauRun stopped = run_plateau(first, metrics, dir, "");
  REQUIRE_FALSE(stopped.checkpoint.empty());
  const TrainerState saved = read_trainer_state(stopped.checkpoint);
  CHECK(saved.plateau.learning_rate == base / 2);
  CHECK(saved.plateau.best == 50);
  CHECK(saved.plateau.evaluations == 2);
  const PlateauRun resumed = run_plateau(config, metrics, "", stopped.checkpoint);
  std::vector<double> joined = stopped.rates;
  joined.insert(joined.end(), resumed.rates.begin(), resumed.rates.end());
  CHECK(joined == expected);
  std::filesystem::remove_all(dir);
  // Without a metric to step with, the run says so.
  TrainHooks none;
  TinyRun run(config, 5);
  Trainer trainer(*run.model, *run.optimizer, config);
  none.on_evaluate = [](const TrainerState&) {};
  CHECK_THROWS_WITH(trainer.train(test::resume_windows(23), none),
                    Catch::Contains("reduce_lr_on_plateau: the evaluation at step 2 gave no --metric_for_best_model"));
}

TEST_CASE("a version 1 trainer_state.json still reads: linear schedule, loss total unknown", "[schedule]") {
  TrainerState state;
  state.global_step = 4;
  state.total_steps = 10;
  state.batch_size = 4;
  state.gradient_accumulation_steps = 1;
  state.num_windows = 23;
  std::string json = trainer_state_to_json(state);
  // What version 1 wrote: no lr_scheduler_type, total_loss, total_loss_steps.
  for (const char* key : {"  \"lr_scheduler_type\"", "  \"total_loss\"", "  \"total_loss_steps\""}) {
    const size_t at = json.find(key);
    REQUIRE(at != std::string::npos);
    json.erase(at, json.find('\n', at) + 1 - at);
  }
  json.replace(json.find("\"version\": 2"), 12, "\"version\": 1");
  const TrainerState read = parse_trainer_state(json, "v1.json");
  CHECK(read.lr_scheduler_type == "linear");
  CHECK(read.total_loss_steps == -1);
  CHECK_THROWS_WITH(parse_trainer_state(json.replace(json.find("\"version\": 1"), 12, "\"version\": 3"), "v3.json"),
                    Catch::Contains("v3.json") && Catch::Contains("version"));
}

}  // namespace
}  // namespace bert
