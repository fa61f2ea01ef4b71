// AdamW over the model's flat parameters, as Hugging Face's Trainer sets it up:
// two groups (weight decay on every tensor but biases and LayerNorm), global gradient-norm
// clipping before the update (torch.nn.utils.clip_grad_norm_: scale = max_norm/(norm+1e-6)
// when that is below 1). The learning rate of each update comes from engine/lr_schedule.h.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/bert_qa_model.h"

namespace bert {

struct OptimizerConfig {
  double learning_rate = 5e-5;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;
  double max_grad_norm = 1.0;  // <= 0 disables clipping
  // step_on_device queues AdamW stage by stage (engine/param_layout.h) beside the main stream
  // (Backend::begin_side_updates), so the next forward pass waits for each stage's update only
  // where it first uses it instead of for the whole update before it starts. The same values
  // either way (AdamW is element-wise). A candidate being measured (issue 13): off by default,
  // on with BERT_ADAMW_BESIDE_FORWARD=1.
  bool update_beside_forward = false;
};

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
  // update, on the device) + AdamW + the update count; with update_beside_forward, the
  // model's next forward pass and backward wait for the AdamW work (BertQaModel does it).
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
  // The update of step_on_device stage by stage beside the main stream, each stage marked.
  void queue_beside_forward(double learning_rate);
  Tensor exp_avg_, exp_avg_sq_, step_stats_;
  // update_beside_forward: the step statistics the side work reads (a copy: the next step's
  // begin_step zeroes step_stats_ while the side work may still be running).
  Tensor update_stats_;
  std::vector<StageRange> stage_ranges_;  // the layout's, in forward order
  int64_t steps_done_ = 0;
};

}  // namespace bert
