// transformers' learning-rate schedules: --lr_scheduler_type and its --lr_scheduler_kwargs, as
// Trainer.create_scheduler builds them (transformers.get_scheduler with
// scheduler_specific_kwargs) and torch's LambdaLR applies them: the rate of the update after
// `step` updates is base_lr × factor(step). With w = warmup steps, T = total steps and, while
// step < w, the warmup factor step / max(1, w) (except where said):
//   linear                     then max(0, (T - step) / max(1, T - w))
//   cosine                     then, with p = (step - w) / max(1, T - w),
//                              max(0, 0.5 (1 + cos(pi · 2 · num_cycles · p)))         num_cycles 0.5
//   cosine_with_restarts       then 0 from p >= 1, else 0.5 (1 + cos(pi · ((num_cycles · p) mod 1)))
//                                                                                    num_cycles 1
//   polynomial                 then (lr_end + (base - lr_end) (1 - (step - w) / (T - w))^power) / base,
//                              lr_end / base after T                         lr_end 1e-7, power 1
//   constant                   1 from the first step (warmup and kwargs ignored, as transformers)
//   constant_with_warmup       then 1 (kwargs ignored, as transformers)
//   inverse_sqrt               then 1 / sqrt((step + timescale - w) / timescale)
//                                                               timescale w, or 10,000 when w = 0
//   cosine_with_min_lr         the cosine factor f, then max(0, f (1 - r) + r), r = min_lr_rate or
//                              min_lr / base (one of them required)              num_cycles 0.5
//   cosine_warmup_with_min_lr  warmup (step + 1) / max(1, w), or with warmup_lr_rate a:
//                              a + (1 - a) step / max(1, w - 1); then as cosine_with_min_lr with
//                              p = (step - w + 1) / max(1, T - w)
//   warmup_stable_decay        warmup then stable (1) then decay over num_decay_steps (required),
//                              the stable phase num_stable_steps or T - w - num_decay_steps;
//                              warmup_type (linear) and decay_type (cosine) each linear, cosine
//                              or 1-sqrt, both lifted to min_lr_ratio (0); min_lr_ratio after
//                              the decay                                          num_cycles 0.5
//   reduce_lr_on_plateau       torch's ReduceLROnPlateau, stepped with --metric_for_best_model's
//                              value after each evaluation during training (not eval_on_start's),
//                              as transformers' Trainer does: no warmup, the rate is base_lr until
//                              an evaluation lowers it (PlateauState; mode min, factor 0.1,
//                              patience 10, threshold 1e-4 rel, cooldown 0, min_lr 0, eps 1e-8)
// greedy (transformers' GreedyLR, also driven by evaluations) is not implemented.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace bert {

enum class LrSchedule {
  kLinear,
  kCosine,
  kCosineWithRestarts,
  kPolynomial,
  kConstant,
  kConstantWithWarmup,
  kInverseSqrt,
  kCosineWithMinLr,
  kCosineWarmupWithMinLr,
  kWarmupStableDecay,
  kReduceLrOnPlateau,
};

// warmup_stable_decay's warmup_type and decay_type.
enum class WsdShape { kLinear, kCosine, kOneMinusSqrt };

inline constexpr double kNotGiven = std::numeric_limits<double>::quiet_NaN();

// --lr_scheduler_kwargs; NaN: not given (the schedule's default above applies).
struct LrScheduleArgs {
  double num_cycles = kNotGiven;
  double lr_end = 1e-7, power = 1.0;  // polynomial
  double timescale = kNotGiven;       // inverse_sqrt
  double min_lr_rate = kNotGiven;     // the *_min_lr schedules (min_lr given: min_lr / learning_rate)
  double warmup_lr_rate = kNotGiven;  // cosine_warmup_with_min_lr
  double num_decay_steps = kNotGiven, num_stable_steps = kNotGiven;  // warmup_stable_decay
  WsdShape warmup_type = WsdShape::kLinear, decay_type = WsdShape::kCosine;
  double min_lr_ratio = 0.0;
  // reduce_lr_on_plateau (torch.optim.lr_scheduler.ReduceLROnPlateau's arguments).
  bool plateau_max = false;           // mode: "max" (a higher metric is better) or "min"
  bool plateau_threshold_abs = false;  // threshold_mode: "abs" or "rel"
  double plateau_factor = 0.1, plateau_threshold = 1e-4, plateau_min_lr = 0.0, plateau_eps = 1e-8;
  int64_t plateau_patience = 10, plateau_cooldown = 0;
};

// ReduceLROnPlateau's state, carried by checkpoints (TrainerState).
struct PlateauState {
  double learning_rate = 0;  // the rate of the next steps
  // The best metric so far; NaN before the first evaluation (torch's +-infinity, which every
  // finite metric beats; JSON has no infinity, and a checkpoint then holds null).
  double best = std::numeric_limits<double>::quiet_NaN();
  int64_t bad_evaluations = 0, cooldown = 0, evaluations = 0;
};
PlateauState plateau_start(double base_lr);
// ReduceLROnPlateau.step(metric): the rate falls by factor (not below min_lr, and only by more
// than eps) after more than patience evaluations without improvement, then rests for cooldown.
void plateau_step(const LrScheduleArgs& args, double metric, PlateauState* state);

struct LrScheduleConfig {
  LrSchedule type = LrSchedule::kLinear;
  LrScheduleArgs args;
  // The kwargs as given, in one spelling (keys sorted, Python's float digits): what a checkpoint
  // records and a resume compares; "{}" when none.
  std::string kwargs_json = "{}";
};

// The names transformers' SchedulerType gives them; false for any other name.
bool parse_lr_schedule(const std::string& name, LrSchedule* out);
const char* lr_schedule_name(LrSchedule schedule);
// The names parse_lr_schedule accepts, for messages.
const char* lr_schedule_names();

// --lr_scheduler_type and --lr_scheduler_kwargs (a JSON object, or empty for none) checked as
// transformers checks them when it builds the schedule, for a run whose peak rate is
// learning_rate: a name not implemented, a key the schedule does not take, a missing required
// key or a value out of range throws InputError naming the flag and the key. Keys that
// transformers ignores (those of constant and constant_with_warmup) add a line to *notes.
LrScheduleConfig parse_lr_schedule_config(const std::string& name, const std::string& kwargs_json,
                                          double learning_rate, std::vector<std::string>* notes);

// The rate of the update after `step` updates (0 for the first).
double schedule_lr(const LrScheduleConfig& schedule, double base_lr, int64_t step, int64_t warmup_steps,
                   int64_t total_steps);
// The same with the schedule's default arguments.
double schedule_lr(LrSchedule schedule, double base_lr, int64_t step, int64_t warmup_steps, int64_t total_steps);
// get_linear_schedule_with_warmup's rate (schedule_lr of kLinear).
double linear_schedule_lr(double base_lr, int64_t step, int64_t warmup_steps, int64_t total_steps);

}  // namespace bert
