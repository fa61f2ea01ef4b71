#include "engine/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <future>
#include <limits>
#include <random>

#include "engine/core/error.h"
#include "engine/packed_batch.h"

namespace bert {

int64_t total_train_steps(const TrainConfig& config, size_t num_windows) {
  if (config.max_steps > 0) return config.max_steps;
  const int64_t batches = static_cast<int64_t>((num_windows + config.batch_size - 1) / config.batch_size);
  const int64_t per_epoch = std::max<int64_t>(1, batches / config.gradient_accumulation_steps);
  return static_cast<int64_t>(std::ceil(config.num_train_epochs * static_cast<double>(per_epoch)));
}

int64_t warmup_steps_for(const TrainConfig& config, int64_t total_steps) {
  if (config.warmup_steps > 0) return config.warmup_steps;
  return static_cast<int64_t>(std::ceil(config.warmup_ratio * static_cast<double>(total_steps)));
}

std::vector<size_t> epoch_order(size_t count, uint64_t seed, int64_t epoch) {
  std::vector<size_t> order(count);
  for (size_t i = 0; i < count; ++i) order[i] = i;
  std::mt19937_64 engine(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1);
  for (size_t i = count; i > 1; --i) {
    // Unbiased draw in [0, i) by rejection, independent of the standard library's distributions.
    const uint64_t bound = static_cast<uint64_t>(i);
    const uint64_t limit = ~uint64_t(0) - (~uint64_t(0) % bound);
    uint64_t draw;
    do draw = engine(); while (draw >= limit);
    std::swap(order[i - 1], order[draw % bound]);
  }
  return order;
}

TrainerState initial_trainer_state(const TrainConfig& config, const std::vector<Window>& windows) {
  TrainerState state;
  state.seed = config.seed;
  state.total_steps = total_train_steps(config, windows.size());
  state.warmup_steps = warmup_steps_for(config, state.total_steps);
  state.learning_rate = config.optimizer.learning_rate;
  state.batch_size = config.batch_size;
  state.gradient_accumulation_steps = config.gradient_accumulation_steps;
  state.num_windows = windows.size();
  state.data_fingerprint = windows_fingerprint(windows);
  return state;
}

namespace {

// A micro-batch and where the data stream stands once it is consumed.
struct StreamBatch {
  PackedBatch batch;
  DataPosition after;
};

// Micro-batches in visiting order from any position: epoch after epoch, each a fresh shuffle.
// Everything it yields follows from (seed, position), which is what makes a resumed stream
// continue exactly where the checkpointed one stood.
class BatchStream {
 public:
  BatchStream(const std::vector<Window>& windows, int batch_size, uint64_t seed, DataPosition start)
      : windows_(windows), batch_size_(batch_size), seed_(seed), position_(start) {}

  StreamBatch next() {
    const int64_t count = static_cast<int64_t>(windows_.size());
    if (position_.index >= count) {
      ++position_.epoch;
      position_.index = 0;
    }
    if (order_epoch_ != position_.epoch) {
      order_ = epoch_order(windows_.size(), seed_, position_.epoch);
      order_epoch_ = position_.epoch;
    }
    const int64_t end = std::min(count, position_.index + batch_size_);
    std::vector<const Window*> members;
    for (int64_t i = position_.index; i < end; ++i) members.push_back(&windows_[order_[i]]);
    position_.index = end;
    return {pack_windows(members), position_};
  }

 private:
  const std::vector<Window>& windows_;
  int64_t batch_size_;
  uint64_t seed_;
  DataPosition position_;
  std::vector<size_t> order_;
  int64_t order_epoch_ = -1;
};

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

// Packs the next batch on a host thread while the current one computes. The prefetched batch
// is never part of the trainer's state: the position recorded is the one after the batch the
// model consumed, so a checkpoint taken now resumes with the batch that was being prefetched.
class Trainer::BatchPrefetcher {
 public:
  BatchPrefetcher(const std::vector<Window>& windows, int batch_size, uint64_t seed, DataPosition start)
      : stream_(windows, batch_size, seed, start) {
    prefetch();
  }
  ~BatchPrefetcher() {
    if (upcoming_.valid()) upcoming_.wait();
  }
  StreamBatch next() {
    StreamBatch out = upcoming_.get();
    prefetch();
    return out;
  }

 private:
  void prefetch() { upcoming_ = std::async(std::launch::async, [this] { return stream_.next(); }); }
  BatchStream stream_;
  std::future<StreamBatch> upcoming_;
};

Trainer::Trainer(BertQaModel& model, AdamWOptimizer& optimizer, const TrainConfig& config)
    : model_(model), optimizer_(optimizer), config_(config) {
  if (config.batch_size <= 0) throw InputError("--per_device_train_batch_size must be positive");
  if (config.gradient_accumulation_steps <= 0) throw InputError("--gradient_accumulation_steps must be positive");
}

void Trainer::resume(const TrainerState& state, const std::string& source) {
  state_ = state;
  resumed_ = true;
  resume_source_ = source;
  optimizer_.set_steps_done(state.optimizer_steps);
}

double Trainer::accumulate_gradients(BatchPrefetcher& batches, int64_t* windows_seen, TrainSummary* summary) {
  model_.zero_gradients();
  double step_loss = 0;
  for (int micro = 0; micro < config_.gradient_accumulation_steps; ++micro) {
    // The per-step data slice: the next batch_size windows of the epoch order. (Data
    // parallelism takes this rank's part of the global batch here instead.)
    const StreamBatch next = batches.next();
    model_.load_batch(next.batch);
    PassContext context;
    context.training = true;
    context.seed = config_.seed;
    context.micro_step = state_.micro_step++;
    context.loss_scale = 1.0 / config_.gradient_accumulation_steps;
    const double loss = model_.forward(context, true);
    model_.backward(context);
    state_.data = next.after;
    if (summary->step_losses.empty() && micro == 0) summary->first_loss = loss;
    step_loss += loss / config_.gradient_accumulation_steps;
    *windows_seen += next.batch.batch();
  }
  return step_loss;
}

void Trainer::reduce_gradients(double* step_loss) {
  // One process holds the whole step's gradients and loss. Data parallelism sums
  // model_.gradients_flat() and the loss over ranks here, so that the update and the
  // non-finite decision below are the same on every rank.
  (void)step_loss;
}

UpdateStats Trainer::apply_update(double step_loss, double learning_rate) {
  // The optimizer itself skips a non-finite gradient norm; a non-finite loss is skipped here
  // (its gradients are meaningless even where their norm happens to be finite).
  if (std::isfinite(step_loss)) return optimizer_.step(learning_rate);
  UpdateStats stats;
  stats.learning_rate = learning_rate;
  stats.grad_norm = optimizer_.grad_norm();
  stats.applied = false;
  return stats;
}

TrainSummary Trainer::train(const std::vector<Window>& windows, const LogFn& log, const SaveFn& save) {
  TrainHooks hooks;
  hooks.on_step = log;
  if (save) hooks.on_checkpoint = [&save](const TrainerState& state) { save(state.global_step); };
  return train(windows, hooks);
}

// Throughput and ETA: wall-clock bookkeeping that, unlike everything in TrainerState, is not
// expected to repeat when a run is resumed.
struct Trainer::StepClock {
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point interval_start = started;
  int64_t interval_windows = 0, total_windows = 0;
};

void Trainer::record_step(double step_loss, const UpdateStats& stats, double batches_per_epoch) {
  const int64_t done = ++state_.global_step;
  state_.optimizer_steps = optimizer_.steps_done();
  state_.epoch = double(done * config_.gradient_accumulation_steps) / batches_per_epoch;
  state_.consecutive_nonfinite = stats.applied ? 0 : state_.consecutive_nonfinite + 1;
  state_.skipped_updates += stats.applied ? 0 : 1;
  if (std::isfinite(step_loss)) {  // the logged mean is over the steps that had a loss
    state_.interval_loss += step_loss;
    ++state_.interval_steps;
  }
}

TrainProgress Trainer::report_step(double step_loss, const UpdateStats& stats, int64_t first_step,
                                   StepClock* clock) {
  const int64_t done = state_.global_step, total = state_.total_steps;
  const auto now = std::chrono::steady_clock::now();
  TrainProgress progress;
  progress.step = done;
  progress.total_steps = total;
  progress.epoch = state_.epoch;
  progress.loss = state_.interval_steps > 0 ? state_.interval_loss / double(state_.interval_steps)
                                            : std::numeric_limits<double>::quiet_NaN();
  progress.step_loss = step_loss;
  progress.learning_rate = stats.learning_rate;
  progress.grad_norm = stats.grad_norm;
  progress.windows_per_second = clock->interval_windows / std::max(1e-9, seconds_between(clock->interval_start, now));
  progress.eta_seconds = seconds_between(clock->started, now) / double(done - first_step) * double(total - done);
  progress.skipped_updates = state_.skipped_updates;
  progress.consecutive_skipped = state_.consecutive_nonfinite;
  progress.update_skipped = !stats.applied;
  progress.logging_step = done % std::max<int64_t>(1, config_.logging_steps) == 0 || done == total;
  if (progress.logging_step) {
    state_.interval_loss = 0;
    state_.interval_steps = 0;
    clock->interval_windows = 0;
    clock->interval_start = now;
  }
  return progress;
}

namespace {

std::string divergence_message(int64_t step, int64_t consecutive, double loss, double grad_norm, int64_t limit,
                               double learning_rate) {
  char text[512];
  std::snprintf(text, sizeof text,
                "training diverged at step %lld: %lld consecutive steps had a non-finite loss or gradient "
                "norm (last loss %g, gradient norm %g; --max_consecutive_nonfinite %lld); lower "
                "--learning_rate (now %g) or add warmup and start again (--overwrite_output_dir); "
                "nothing was saved at this step",
                static_cast<long long>(step), static_cast<long long>(consecutive), loss, grad_norm,
                static_cast<long long>(limit), learning_rate);
  return text;
}

}  // namespace

TrainSummary Trainer::train(const std::vector<Window>& windows, const TrainHooks& hooks) {
  if (windows.empty()) throw InputError("no training windows: the training file produced an empty dataset");
  const TrainerState fresh = initial_trainer_state(config_, windows);
  if (resumed_) check_resume_compatible(state_, fresh, resume_source_);
  else state_ = fresh;
  resumed_ = true;  // a second train() call continues this run
  resume_source_ = "the trainer's earlier run";

  const int64_t total = state_.total_steps;
  const double batches_per_epoch = std::ceil(double(windows.size()) / config_.batch_size);
  TrainSummary summary;
  summary.first_step = summary.steps = state_.global_step;
  summary.total_steps = total;
  if (config_.stop_after_steps > 0 && state_.global_step >= config_.stop_after_steps && state_.global_step < total) {
    summary.outcome = TrainOutcome::kStopAfterSteps;
    return summary;
  }
  BatchPrefetcher batches(windows, config_.batch_size, config_.seed, state_.data);
  StepClock clock;
  while (state_.global_step < total) {
    int64_t step_windows = 0;
    double step_loss = accumulate_gradients(batches, &step_windows, &summary);
    reduce_gradients(&step_loss);
    const double lr = linear_schedule_lr(config_.optimizer.learning_rate, state_.global_step,
                                         state_.warmup_steps, total);
    const UpdateStats stats = apply_update(step_loss, lr);
    record_step(step_loss, stats, batches_per_epoch);
    summary.step_losses.push_back(step_loss);
    clock.interval_windows += step_windows;
    clock.total_windows += step_windows;
    const TrainProgress progress = report_step(step_loss, stats, summary.first_step, &clock);
    if (progress.logging_step) summary.final_loss = progress.loss;
    if (hooks.on_step) hooks.on_step(progress);

    const int64_t done = state_.global_step;
    if (config_.max_consecutive_nonfinite > 0 && state_.consecutive_nonfinite >= config_.max_consecutive_nonfinite)
      throw TrainingDiverged(divergence_message(done, state_.consecutive_nonfinite, step_loss, stats.grad_norm,
                                                config_.max_consecutive_nonfinite, config_.optimizer.learning_rate));
    if (done == total) break;
    const bool saved = config_.save_steps > 0 && done % config_.save_steps == 0;
    if (saved && hooks.on_checkpoint) hooks.on_checkpoint(state_);
    TrainOutcome stop = TrainOutcome::kCompleted;
    if (config_.stop_after_steps > 0 && done >= config_.stop_after_steps) stop = TrainOutcome::kStopAfterSteps;
    else if (hooks.stop_requested && hooks.stop_requested()) stop = TrainOutcome::kStopRequested;
    if (stop != TrainOutcome::kCompleted) {
      if (!saved && hooks.on_checkpoint) hooks.on_checkpoint(state_);
      summary.outcome = stop;
      break;
    }
  }
  summary.steps = state_.global_step;
  summary.skipped_updates = state_.skipped_updates;
  summary.seconds = seconds_between(clock.started, std::chrono::steady_clock::now());
  summary.windows_per_second = clock.total_windows / std::max(1e-9, summary.seconds);
  return summary;
}

}  // namespace bert
