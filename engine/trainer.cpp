#include "engine/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>

#include "core/error.h"
#include "engine/data_parallel.h"
#include "engine/packed_batch.h"
#include "io/bert_config.h"

namespace bert {

bool parse_interval_strategy(const std::string& name, IntervalStrategy* out) {
  if (name == "no") *out = IntervalStrategy::kNo;
  else if (name == "steps") *out = IntervalStrategy::kSteps;
  else if (name == "epoch") *out = IntervalStrategy::kEpoch;
  else return false;
  return true;
}

int64_t warmup_steps_for(const TrainConfig& config, int64_t total_steps) {
  if (config.warmup_steps > 0) return config.warmup_steps;
  return static_cast<int64_t>(std::ceil(config.warmup_ratio * static_cast<double>(total_steps)));
}

TrainerState initial_trainer_state(const TrainConfig& config, const std::vector<Window>& windows, int world_size) {
  TrainerState state;
  state.seed = config.seed;
  state.data_seed = config.data_seed;
  state.dataloader_drop_last = config.dataloader_drop_last;
  state.total_steps = total_train_steps(config, windows.size(), world_size);
  state.warmup_steps = warmup_steps_for(config, state.total_steps);
  state.learning_rate = config.optimizer.learning_rate;
  state.adam_beta1 = config.optimizer.beta1;
  state.adam_beta2 = config.optimizer.beta2;
  state.adam_epsilon = config.optimizer.eps;
  state.weight_decay = config.optimizer.weight_decay;
  state.lr_scheduler_type = lr_schedule_name(config.lr_schedule.type);
  state.lr_scheduler_kwargs = config.lr_schedule.kwargs_json;
  state.plateau = plateau_start(config.optimizer.learning_rate);  // read by reduce_lr_on_plateau only
  state.batch_size = config.batch_size * world_size;
  state.gradient_accumulation_steps = config.gradient_accumulation_steps;
  state.num_windows = windows.size();
  state.data_fingerprint = windows_fingerprint(windows);
  state.train_sampling_strategy = train_sampling_name(config.sampling);
  return state;
}

namespace {

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace



Trainer::Trainer(BertQaModel& model, AdamWOptimizer& optimizer, const TrainConfig& config, Communicator* comm)
    : model_(model),
      optimizer_(optimizer),
      config_(config),
      comm_(comm),
      non_embedding_parameters_(bert_qa_non_embedding_parameter_count(model.config())) {
  if (config.batch_size <= 0) throw InputError("--per_device_train_batch_size must be positive");
  if (config.gradient_accumulation_steps <= 0) throw InputError("--gradient_accumulation_steps must be positive");
  if (comm_ != nullptr) {
    world_size_ = comm_->world_size();
    rank_ = comm_->rank();
  }
  if (world_size_ > 1 && config.overlap_gradient_reduction)
    reducer_ = std::make_unique<GradientReducer>(model_, *comm_, config.bucket_bytes);
}

Trainer::~Trainer() = default;

void Trainer::resume(const TrainerState& state, const std::string& source) {
  state_ = state;
  resumed_ = true;
  resume_source_ = source;
  if (state_.total_loss_steps < 0) {  // a version 1 checkpoint: the mean starts here
    state_.total_loss = 0;
    state_.total_loss_steps = 0;
    mean_loss_first_step_ = state_.global_step;
  }
  optimizer_.set_steps_done(state.optimizer_steps);
}

// What the host knows of a queued step before its statistics come back.
struct Trainer::QueuedStep {
  double learning_rate = 0;
  int64_t windows = 0;       // global windows it trained on
  int64_t input_tokens = 0;  // its input tokens as TrainConfig::input_token_count counts them
};

void Trainer::accumulate_gradients(PrefetchedBatchStream& batches, int64_t steps_before,
                                   QueuedStep* queued) {
  model_.begin_gradient_step();
  optimizer_.begin_step();
  // gradient_accumulation_steps, or fewer for an epoch's last step (the epoch's leftovers).
  const int accumulation =
      micro_batches_in_step(steps_before, batches_per_epoch(), config_.gradient_accumulation_steps);
  for (int micro = 0; micro < accumulation; ++micro) {
    // This rank's slice of the next global micro-batch; a rank may get none at an epoch's end
    // and then still joins the collectives below with zero gradients.
    const RankMicroBatch next = batches.next();
    const PassContext context = rank_pass_context(next, config_.seed, state_.micro_step++, accumulation);
    if (!next.empty()) {
      model_.load_batch(next.batch);
      model_.forward_train(context, optimizer_.step_stats(), next.loss_weight / accumulation);
      const bool last = micro + 1 == accumulation;
      model_.backward(context, last && reducer_ ? reducer_->unit_done() : BertQaModel::UnitDoneFn());
    }
    state_.data = batches.position_after(next);
    queued->windows += static_cast<int64_t>(next.global_windows);
    // The positions of Hugging Face's input_ids for these windows, padding included.
    const int64_t hf_input_tokens = config_.hf_padded_length > 0
                                        ? int64_t(next.global_windows) * config_.hf_padded_length
                                        : int64_t(next.device_padded_tokens);
    state_.total_flos += 6.0 * double(hf_input_tokens) * non_embedding_parameters_;
    queued->input_tokens += config_.input_token_count == InputTokenCount::kAll ? hf_input_tokens
                            : config_.input_token_count == InputTokenCount::kNonPadding
                                ? int64_t(next.global_tokens)
                                : 0;
  }
  model_.end_gradient_step();
}

void Trainer::reduce_gradients() {
  // Every rank ends the step with the sum over ranks of the gradients (each rank's loss scale
  // already holds its share of the global mean) and of the loss, so the norm, the skip
  // decision and the update are the same everywhere.
  if (world_size_ == 1) return;
  if (reducer_) reducer_->finish();
  else all_reduce_gradients(model_, *comm_);
  comm_->all_reduce_sum(slice(optimizer_.step_stats(), kStepLossSum, 1));
}

Trainer::QueuedStep Trainer::queue_step(PrefetchedBatchStream& batches, int64_t steps_before) {
  QueuedStep queued;
  accumulate_gradients(batches, steps_before, &queued);
  reduce_gradients();
  queued.learning_rate =
      config_.lr_schedule.type == LrSchedule::kReduceLrOnPlateau
          ? state_.plateau.learning_rate
          : schedule_lr(config_.lr_schedule, config_.optimizer.learning_rate, steps_before, state_.warmup_steps,
                        state_.total_steps);
  optimizer_.step_on_device(queued.learning_rate);
  return queued;
}

// Throughput and ETA: wall-clock bookkeeping that, unlike everything in TrainerState, is not
// expected to repeat when a run is resumed.
struct Trainer::StepClock {
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point interval_start = started;
  int64_t interval_windows = 0, total_windows = 0;
  int64_t first_input_tokens_seen = 0;  // the count when this train() call began (its tokens/s)
};

TrainerState Trainer::state() const {
  TrainerState state = state_;
  state.optimizer_steps = optimizer_.steps_done();
  return state;
}

void Trainer::record_step(double step_loss, const UpdateStats& stats) {
  const int64_t done = ++state_.global_step;
  state_.epoch = epoch_at(done);
  state_.consecutive_nonfinite = stats.applied ? 0 : state_.consecutive_nonfinite + 1;
  state_.skipped_updates += stats.applied ? 0 : 1;
  if (std::isfinite(step_loss)) {  // the logged mean is over the steps that had a loss
    state_.interval_loss += step_loss;
    ++state_.interval_steps;
    state_.total_loss += step_loss;
    ++state_.total_loss_steps;
  }
}

size_t Trainer::batches_per_epoch() const {
  return global_batches_per_epoch(state_.num_windows, config_.batch_size, world_size_,
                                  config_.dataloader_drop_last);
}

// transformers' Trainer._evaluate: ReduceLROnPlateau steps with the evaluation's metric. Rank 0
// evaluates; every rank takes its value, so that all train with the same rate.
void Trainer::step_plateau(const TrainHooks& hooks) {
  double metric = hooks.evaluation_metric ? hooks.evaluation_metric() : std::numeric_limits<double>::quiet_NaN();
  if (world_size_ > 1) comm_->broadcast(&metric, sizeof metric);
  if (std::isnan(metric))
    throw InputError("--lr_scheduler_type reduce_lr_on_plateau: the evaluation at step " +
                     std::to_string(state_.global_step) + " gave no --metric_for_best_model value to step it with");
  plateau_step(config_.lr_schedule.args, metric, &state_.plateau);
}

int64_t Trainer::steps_in_epoch() const {
  return steps_per_epoch(state_.num_windows, config_.batch_size, world_size_,
                         config_.gradient_accumulation_steps, config_.dataloader_drop_last);
}

// transformers' state.epoch: whole epochs done plus the share of the current epoch's
// micro-batches consumed (an epoch's last step, however short, completes it).
double Trainer::epoch_at(int64_t step) const {
  const int64_t per_epoch = steps_in_epoch();
  const double batches = double(batches_per_epoch());
  const double consumed = double((step % per_epoch) * int64_t(config_.gradient_accumulation_steps));
  return double(step / per_epoch) + std::min(consumed, batches) / batches;
}

bool Trainer::epoch_ends_at(int64_t step) const { return step > 0 && step % steps_in_epoch() == 0; }

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
  if (config_.input_token_count != InputTokenCount::kNo) {
    progress.num_input_tokens_seen = state_.num_input_tokens_seen;
    progress.seconds_since_start = seconds_between(clock->started, now);
    progress.input_tokens_per_second = double(state_.num_input_tokens_seen - clock->first_input_tokens_seen) /
                                       std::max(1e-9, progress.seconds_since_start);
  }
  // As transformers' DefaultFlowCallback: steps logs multiples of logging_steps only; epoch logs
  // each epoch's end, the last step's (partial) epoch included.
  const bool interval = config_.logging_strategy == IntervalStrategy::kSteps
                            ? done % std::max<int64_t>(1, interval_steps(config_.logging_steps, total)) == 0
                            : config_.logging_strategy == IntervalStrategy::kEpoch && (epoch_ends_at(done) || done == total);
  progress.logging_step = interval || (config_.logging_first_step && done == 1);
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

void Trainer::check_parameters_finite(double last_step_loss) const {
  const NonFiniteParameter bad = find_nonfinite_parameter(model_);
  if (bad.name.empty() && std::isfinite(last_step_loss)) return;
  char what[256];
  if (!bad.name.empty())
    std::snprintf(what, sizeof what, "parameter \"%s\" holds %zu non-finite values (NaN or infinity)",
                  bad.name.c_str(), bad.count);
  else
    std::snprintf(what, sizeof what, "the parameters give a non-finite loss (%g at the last step)", last_step_loss);
  char text[640];
  std::snprintf(text, sizeof text,
                "training diverged at step %lld: %s; lower --learning_rate (now %g) or add warmup and start again "
                "(--overwrite_output_dir); nothing was saved at this step",
                static_cast<long long>(state_.global_step), what, config_.optimizer.learning_rate);
  throw TrainingDiverged(text);
}

TrainProgress Trainer::finish_step(const QueuedStep& step, TrainSummary* summary, StepClock* clock) {
  const std::vector<double> values = model_.backend().collect_download();
  const UpdateStats stats = optimizer_.read_step_stats(values, step.learning_rate);
  const double step_loss = values[kStepLossSum];
  record_step(step_loss, stats);
  state_.num_input_tokens_seen += step.input_tokens;  // counted with its step, not when queued
  summary->step_losses.push_back(step_loss);
  clock->interval_windows += step.windows;
  clock->total_windows += step.windows;
  TrainProgress progress = report_step(step_loss, stats, summary->first_step, clock);
  if (progress.logging_step) summary->final_loss = progress.loss;
  return progress;
}

void Trainer::start_or_continue(const std::vector<Window>& windows) {
  if (windows.empty()) throw InputError("no training windows: the training file produced an empty dataset");
  const TrainerState fresh = initial_trainer_state(config_, windows, world_size_);
  if (resumed_) {
    check_resume_compatible(state_, fresh, resume_source_);
    record_unrecorded_settings(&state_, fresh);  // the checkpoints this run writes hold them
    // Global batches start at multiples of the global batch (or the epoch's end).
    const int64_t global_batch = int64_t(config_.batch_size) * world_size_;
    if (state_.data.index % global_batch != 0 && state_.data.index != int64_t(windows.size()))
      throw InputError(resume_source_ + ": data_index " + std::to_string(state_.data.index) +
                       " does not start a batch of " + std::to_string(global_batch) + " windows");
  } else {
    state_ = fresh;
  }
  resumed_ = true;  // a second train() call continues this run
  resume_source_ = "the trainer's earlier run";
}

// As transformers' DefaultFlowCallback: an interval's saves and evaluations, and, with either
// strategy on, one more at the last step (run_qa's max_steps may end a run mid-interval).
int64_t interval_steps(double given, int64_t total_steps) {
  if (given > 0 && given < 1) return static_cast<int64_t>(std::ceil(static_cast<double>(total_steps) * given));
  return static_cast<int64_t>(given);
}

Trainer::StepPoints Trainer::points_after(int64_t done) const {
  const int64_t total = state_.total_steps;
  const bool epoch_end = epoch_ends_at(done);
  const auto due = [&](IntervalStrategy strategy, int64_t every) {
    return strategy == IntervalStrategy::kEpoch   ? epoch_end || done == total
           : strategy == IntervalStrategy::kSteps ? every > 0 && (done % every == 0 || done == total)
                                                  : false;
  };
  StepPoints points;
  points.save = due(config_.save_strategy, interval_steps(config_.save_steps, total));
  // eval_delay as DefaultFlowCallback compares it: with the step (steps) or the epoch (epoch).
  const double progress = config_.eval_strategy == IntervalStrategy::kEpoch ? epoch_at(done) : double(done);
  points.evaluate = due(config_.eval_strategy, interval_steps(config_.eval_steps, total)) &&
                    config_.eval_delay <= progress;
  points.stop = config_.stop_after_steps > 0 && done >= config_.stop_after_steps && done < total;
  return points;
}

void Trainer::close_summary(const StepClock& clock, TrainSummary* summary) const {
  summary->steps = state_.global_step;
  summary->skipped_updates = state_.skipped_updates;
  summary->mean_loss_first_step = mean_loss_first_step_;
  summary->mean_loss = state_.total_loss_steps > 0 ? state_.total_loss / double(state_.total_loss_steps)
                                                   : std::numeric_limits<double>::quiet_NaN();
  summary->seconds = seconds_between(clock.started, std::chrono::steady_clock::now());
  summary->windows_per_second = clock.total_windows / std::max(1e-9, summary->seconds);
}

TrainSummary Trainer::train(const std::vector<Window>& windows, const TrainHooks& hooks) {
  start_or_continue(windows);
  const int64_t total = state_.total_steps;
  TrainSummary summary;
  summary.first_step = summary.steps = state_.global_step;
  summary.total_steps = total;
  if (config_.stop_after_steps > 0 && state_.global_step >= config_.stop_after_steps && state_.global_step < total) {
    summary.outcome = TrainOutcome::kStopAfterSteps;
    return summary;
  }
  Backend& backend = model_.backend();
  PrefetchedBatchStream batches(windows, config_.batch_size, config_.data_seed, world_size_, rank_,
                                config_.sampling, config_.dataloader_drop_last, state_.data);
  StepClock clock;
  clock.first_input_tokens_seen = state_.num_input_tokens_seen;
  std::string divergence;  // set when max_consecutive_nonfinite is reached
  double last_step_loss = 0;
  // Book-keeps a read-back step: progress hook and the divergence check.
  auto finish = [&](const QueuedStep& step) {
    const TrainProgress progress = finish_step(step, &summary, &clock);
    last_step_loss = progress.step_loss;
    if (hooks.on_step) hooks.on_step(progress);
    if (divergence.empty() && config_.max_consecutive_nonfinite > 0 &&
        state_.consecutive_nonfinite >= config_.max_consecutive_nonfinite)
      divergence = divergence_message(state_.global_step, state_.consecutive_nonfinite, progress.step_loss,
                                      progress.grad_norm, config_.max_consecutive_nonfinite,
                                      config_.optimizer.learning_rate);
  };

  std::optional<QueuedStep> pending;  // queued, statistics staged, not yet read back
  // A device backend computes while the host queues the next step, so a step is read back once
  // the next is queued. A host backend (no native stream) computes inside queue_step: reading
  // the previous step back first keeps each step's time (windows/s) and progress line its own,
  // instead of carrying the next step's compute.
  const bool overlap_steps = backend.native_stream() != nullptr;
  int64_t queued_steps = state_.global_step;
  while (queued_steps < total) {
    if (pending && !overlap_steps) {
      finish(*pending);
      pending.reset();
    }
    const bool profiled = queued_steps + 1 == config_.profile_step;
    if (profiled) backend.profile_range(true);
    const QueuedStep step = queue_step(batches, queued_steps);
    if (profiled) backend.profile_range(false);
    ++queued_steps;
    // The previous step's numbers arrive while this one computes; then this one's are staged.
    if (pending) finish(*pending);
    backend.stage_download(optimizer_.step_stats());
    pending = step;

    const int64_t done = queued_steps;
    const StepPoints points = points_after(done);
    bool stop_requested = hooks.stop_requested && hooks.stop_requested();
    if (world_size_ > 1) stop_requested = any_rank(*comm_, stop_requested);  // a signal may reach one rank
    if (done < total && !points.save && !points.evaluate && !points.stop && !stop_requested && divergence.empty())
      continue;

    // This step must be complete and counted before anything is decided, saved or evaluated.
    finish(*pending);
    pending.reset();
    if (!divergence.empty()) throw TrainingDiverged(divergence);
    check_parameters_finite(last_step_loss);  // whatever comes next saves the parameters or ends the run
    if (points.evaluate && hooks.on_evaluate) hooks.on_evaluate(state());
    // Rank 0 evaluates alone: the others wait for it here, however long it takes, rather than
    // in the next step's gradient sum, whose --ddp_timeout bounds a collective, not rank 0's work.
    if (points.evaluate && world_size_ > 1) comm_->wait_for_root("evaluation");
    if (points.evaluate && config_.lr_schedule.type == LrSchedule::kReduceLrOnPlateau) step_plateau(hooks);
    const bool stopping = done < total && (points.stop || stop_requested);
    if (points.save && !stopping && hooks.on_checkpoint) hooks.on_checkpoint(state());
    if (done == total) break;
    if (stopping) {
      const auto& save = hooks.on_resume_checkpoint ? hooks.on_resume_checkpoint : hooks.on_checkpoint;
      if (save) save(state());
      summary.outcome = points.stop ? TrainOutcome::kStopAfterSteps : TrainOutcome::kStopRequested;
      break;
    }
  }
  close_summary(clock, &summary);
  return summary;
}

}  // namespace bert
