// AdamW over the model's flat parameters, as Hugging Face's Trainer sets it up:
// two groups (weight decay on every tensor but biases and LayerNorm), global gradient-norm
// clipping before the update (torch.nn.utils.clip_grad_norm_: scale = max_norm/(norm+1e-6)
// when that is below 1), and the learning-rate schedule of get_linear_schedule_with_warmup.
#pragma once

#include <cstdint>

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

struct UpdateStats {
  double grad_norm = 0;     // global L2 norm before clipping
  double learning_rate = 0;
  bool applied = true;      // false when the norm was not finite (the update is skipped)
};

class AdamWOptimizer {
 public:
  AdamWOptimizer(BertQaModel& model, const OptimizerConfig& config);

  // One update with the given learning rate from the gradients accumulated in the model.
  // A non-finite gradient norm skips the update (the step count does not advance).
  UpdateStats step(double learning_rate);
  double grad_norm();  // global L2 norm of the current gradients

  int64_t steps_done() const { return steps_done_; }
  void set_steps_done(int64_t steps) { steps_done_ = steps; }
  Tensor exp_avg() const { return exp_avg_; }
  Tensor exp_avg_sq() const { return exp_avg_sq_; }

 private:
  BertQaModel& model_;
  OptimizerConfig config_;
  Tensor exp_avg_, exp_avg_sq_;
  int64_t steps_done_ = 0;
};

}  // namespace bert
