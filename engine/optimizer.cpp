#include "engine/optimizer.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"

namespace bert {

AdamWOptimizer::AdamWOptimizer(BertQaModel& model, const OptimizerConfig& config)
    : model_(model), config_(config) {
  Backend& backend = model.backend();
  exp_avg_ = backend.allocate(model.layout().total(), BufferRole::kOptimizerState);
  exp_avg_sq_ = backend.allocate(model.layout().total(), BufferRole::kOptimizerState);
  step_stats_ = backend.allocate(kStepStatsCount, BufferRole::kStepStats);
  if (config.update_beside_forward) {
    update_stats_ = backend.allocate(kStepStatsCount, BufferRole::kStepStats);
    stage_ranges_ = model.layout().stage_ranges();
  }
}

AdamWHyper AdamWOptimizer::hyper(double learning_rate, bool decayed) const {
  AdamWHyper hyper;
  hyper.learning_rate = learning_rate;
  hyper.beta1 = config_.beta1;
  hyper.beta2 = config_.beta2;
  hyper.eps = config_.eps;
  hyper.weight_decay = decayed ? config_.weight_decay : 0.0;
  hyper.step = steps_done_ + 1;
  return hyper;
}

void AdamWOptimizer::set_steps_done(int64_t steps) {
  steps_done_ = steps;
  const double count = static_cast<double>(steps);
  model_.backend().upload(slice(step_stats_, kStepUpdatesDone, 1), &count, 1);
}

void AdamWOptimizer::begin_step() { model_.backend().step_stats_begin(step_stats_); }

void AdamWOptimizer::for_each_group(const GroupFn& update) {
  // The layout puts every weight-decayed tensor first: two contiguous groups.
  const size_t decay = model_.layout().decay_count(), total = model_.layout().total();
  for (const bool decayed : {true, false}) {
    const size_t begin = decayed ? 0 : decay, count = decayed ? decay : total - decay;
    if (count == 0) continue;
    update(slice(model_.master_params(), begin, count), slice(model_.working_params(), begin, count),
           slice(exp_avg_, begin, count), slice(exp_avg_sq_, begin, count), slice(model_.gradients_flat(), begin, count),
           decayed);
  }
}

void AdamWOptimizer::step_on_device(double learning_rate) {
  Backend& backend = model_.backend();
  backend.grad_norm_and_clip(step_stats_, model_.gradients_flat(), config_.max_grad_norm);
  if (config_.update_beside_forward) {
    queue_beside_forward(learning_rate);
    return;
  }
  for_each_group([&](Tensor master, Tensor working, Tensor m, Tensor v, Tensor grad, bool decayed) {
    backend.adamw_update(master, working, m, v, grad, hyper(learning_rate, decayed), step_stats_);
  });
  backend.step_stats_end(step_stats_);
}

void AdamWOptimizer::queue_beside_forward(double learning_rate) {
  Backend& backend = model_.backend();
  // The side work reads the clipping factor, the skip decision and the update count as they
  // are now (the count before step_stats_end adds this update, as the in-order path reads it).
  backend.copy(update_stats_, step_stats_);
  backend.step_stats_end(step_stats_);
  backend.begin_side_updates();
  // In forward order, so the forward pass finds each stage updated as early as possible.
  const std::vector<StageRange>& ranges = stage_ranges_;
  for (size_t i = 0; i < ranges.size(); ++i) {
    const StageRange& r = ranges[i];
    backend.adamw_update(slice(model_.master_params(), r.offset, r.count),
                         slice(model_.working_params(), r.offset, r.count),
                         slice(exp_avg_, r.offset, r.count), slice(exp_avg_sq_, r.offset, r.count),
                         slice(model_.gradients_flat(), r.offset, r.count),
                         hyper(learning_rate, r.decay), update_stats_);
    if (i + 1 == ranges.size() || ranges[i + 1].stage != r.stage)
      backend.mark_side_updates(r.stage);
  }
  backend.end_side_updates();
}

UpdateStats AdamWOptimizer::read_step_stats(const std::vector<double>& values, double learning_rate) {
  BERT_CHECK(values.size() >= kStepStatsCount, "step statistics: expected " + std::to_string(kStepStatsCount) +
                                                   " values, got " + std::to_string(values.size()));
  UpdateStats stats;
  stats.learning_rate = learning_rate;
  stats.grad_norm = std::sqrt(values[kStepGradSumSquares]);
  stats.applied = values[kStepApplied] > 0.5;
  steps_done_ = static_cast<int64_t>(values[kStepUpdatesDone]);
  return stats;
}

double AdamWOptimizer::grad_norm() {
  return std::sqrt(model_.backend().sum_squares(model_.gradients_flat()));
}

UpdateStats AdamWOptimizer::step(double learning_rate) {
  UpdateStats stats;
  stats.learning_rate = learning_rate;
  const double sum_squares = model_.backend().sum_squares(model_.gradients_flat());
  stats.grad_norm = std::sqrt(sum_squares);
  if (!std::isfinite(stats.grad_norm)) {
    stats.applied = false;
    return stats;
  }
  const double scale = clip_scale_from_sum_squares(sum_squares, config_.max_grad_norm);
  Backend& backend = model_.backend();
  for_each_group([&](Tensor master, Tensor working, Tensor m, Tensor v, Tensor grad, bool decayed) {
    backend.adamw_update(master, working, m, v, grad, hyper(learning_rate, decayed), scale);
  });
  set_steps_done(steps_done_ + 1);  // the device path's count stays in step
  return stats;
}

}  // namespace bert
