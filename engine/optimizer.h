// AdamW over the model's flat parameters, as Hugging Face's Trainer sets it up:
// two groups (weight decay on every tensor but biases and LayerNorm), global gradient-norm
// clipping before the update (torch.nn.utils.clip_grad_norm_: scale = max_norm/(norm+1e-6)
// when that is below 1), and the learning-rate schedules of transformers' --lr_scheduler_type.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "engine/bert_qa_model.h"

namespace bert {

struct OptimizerConfig {
  double learning_rate = 5e-5;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;
  double max_grad_norm = 1.0;  // <= 0 disables clipping
};

// lr(step) for step = number of updates already done (0 for the first), as
// get_linear_schedule_with_warmup: step/warmup during warmup, then linear decay to 0 at total.
double linear_schedule_lr(double base_lr, int64_t step, int64_t warmup_steps, int64_t total_steps);

// transformers' --lr_scheduler_type values this engine implements, each the multiplier of
// base_lr at `step` (updates done) that transformers' LambdaLR computes, with w = warmup steps,
// T = total steps and warmup factor step / max(1, w) while step < w:
//   linear                get_linear_schedule_with_warmup: then max(0, (T - step) / max(1, T - w))
//   cosine                get_cosine_schedule_with_warmup, num_cycles 0.5: then, with
//                         p = (step - w) / max(1, T - w), max(0, 0.5 (1 + cos(pi * 2 * 0.5 * p)))
//   constant              get_constant_schedule: 1 from the first step (warmup is ignored)
//   constant_with_warmup  get_constant_schedule_with_warmup: then 1
enum class LrSchedule { kLinear, kCosine, kConstant, kConstantWithWarmup };

// "linear", "cosine", "constant", "constant_with_warmup"; false for any other name.
bool parse_lr_schedule(const std::string& name, LrSchedule* out);
const char* lr_schedule_name(LrSchedule schedule);
// The names parse_lr_schedule accepts, for messages: "linear, cosine, constant, constant_with_warmup".
const char* lr_schedule_names();
double schedule_lr(LrSchedule schedule, double base_lr, int64_t step, int64_t warmup_steps, int64_t total_steps);

struct UpdateStats {
  double grad_norm = 0;     // global L2 norm before clipping
  double learning_rate = 0;
  bool applied = true;      // false when the norm was not finite (the update is skipped)
};

class AdamWOptimizer {
 public:
  AdamWOptimizer(BertQaModel& model, const OptimizerConfig& config);

  // One update with the given learning rate from the gradients accumulated in the model.
  // A non-finite gradient norm skips the update (the step count does not advance). Reads the
  // norm on the host (waits for the device): the oracle of the device path below.
  UpdateStats step(double learning_rate);
  double grad_norm();  // global L2 norm of the current gradients

  // ---- the same update without waiting for the device (the trainer's path) ----
  // Per-step statistics on the backend (engine/backend.h StepStat): the step's loss, the
  // gradient norm, the clipping factor, whether the update applied and the update count.
  Tensor step_stats() const { return step_stats_; }
  // Zeroes the step's loss and norm (before its first forward_train).
  void begin_step();
  // Queues norm + clipping + the non-finite decision (a non-finite loss or norm skips the
  // update, on the device) + AdamW + the update count.
  void step_on_device(double learning_rate);
  // UpdateStats of a step from the values of step_stats() read back after step_on_device;
  // also records the update count in steps_done().
  UpdateStats read_step_stats(const std::vector<double>& values, double learning_rate);

  int64_t steps_done() const { return steps_done_; }
  // Sets the update count on the host and on the device (resuming from a checkpoint).
  void set_steps_done(int64_t steps);
  Tensor exp_avg() const { return exp_avg_; }
  Tensor exp_avg_sq() const { return exp_avg_sq_; }

 private:
  BertQaModel& model_;
  OptimizerConfig config_;
  AdamWHyper hyper(double learning_rate, bool decayed) const;
  // Calls update(master, working, exp_avg, exp_avg_sq, grad, decayed) for the weight-decayed
  // group and the rest (biases, LayerNorm), each a contiguous range of the flat buffers.
  using GroupFn = std::function<void(Tensor, Tensor, Tensor, Tensor, Tensor, bool)>;
  void for_each_group(const GroupFn& update);
  Tensor exp_avg_, exp_avg_sq_, step_stats_;
  int64_t steps_done_ = 0;
};

}  // namespace bert
