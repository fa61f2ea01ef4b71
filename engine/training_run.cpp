#include "engine/training_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "comm/communicator.h"
#include "comm/rank_agreement.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/strings.h"
#include "engine/batch_stream.h"
#include "engine/checkpoint_checksums.h"
#include "engine/checkpoint_dirs.h"
#include "engine/checkpoint_writer.h"
#include "engine/hf_outputs.h"
#include "engine/optimizer.h"
#include "engine/run_commands.h"
#include "engine/signals.h"
#include "io/model_dir.h"
#include "logging/progress.h"

namespace bert {
namespace {

// One logged dict to trainer_log.jsonl and, with --report_to tensorboard, to the event file as
// transformers' TensorBoardCallback.on_log writes it: every number, counts too, under
// rewrite_logs' tags (hf_tensorboard_tag).
void log_metrics(RunLogs* logs, int64_t step, const MetricValues& values) {
  if (logs->metrics != nullptr) logs->metrics->write(step, values);
  if (logs->kubeflow != nullptr) logs->kubeflow->on_log(values);
  if (logs->tensorboard == nullptr) return;  // --report_to none
  std::vector<std::pair<std::string, double>> scalars;
  for (const auto& [name, value] : values)
    scalars.emplace_back(hf_tensorboard_tag(name), value.number);
  logs->tensorboard->add_scalars(scalars, step);
}

void log_progress(const TrainProgress& p, ProgressReporter* progress, RunLogs* logs) {
  char extra[96];
  std::snprintf(extra, sizeof extra, "epoch %.2f | grad_norm %.4f", p.epoch, p.grad_norm);
  progress->update(p.step, p.loss, p.learning_rate, p.windows_per_second, p.eta_seconds,
                   p.skipped_updates ? std::string(extra) + " | skipped " + std::to_string(p.skipped_updates)
                                     : std::string(extra),
                   p.logging_step);
  if (logs->kubeflow != nullptr)
    logs->kubeflow->on_step_end(p.step, p.total_steps, p.epoch, p.eta_seconds);
  if (p.update_skipped)
    std::fprintf(stderr, "[train] warning: step %lld: non-finite loss %g or gradient norm %g: update skipped "
                         "(%lld in a row, %lld in total)\n",
                 static_cast<long long>(p.step), p.step_loss, p.grad_norm,
                 static_cast<long long>(p.consecutive_skipped), static_cast<long long>(p.skipped_updates));
  if (!p.logging_step) return;
  MetricValues values = {{"epoch", p.epoch}, {"loss", p.loss}, {"learning_rate", p.learning_rate},
                         {"grad_norm", p.grad_norm}, {"windows_per_second", p.windows_per_second}};
  if (p.num_input_tokens_seen >= 0)  // as Trainer.log with the training's start time
    values.insert(values.end(), {{"num_input_tokens_seen", MetricValue::count(p.num_input_tokens_seen)},
                                 {"train_runtime", round_runtime(p.seconds_since_start)},
                                 {"train_tokens_per_second", round_rate(p.input_tokens_per_second)}});
  log_metrics(logs, p.step, values);
}

// train_results.json / all_results.json as run_qa.py writes them, and the run's summary line in
// trainer_log.jsonl (the last entry of log_history).
void write_train_results(const RunSettings& run, const TrainConfig& tc, const TrainSummary& summary,
                         const TrainerState& state, size_t windows, RunLogs* logs) {
  const int64_t input_tokens = logged_input_tokens(tc, state);
  const MetricsDict metrics =
      train_metrics(summary, state.epoch, state.total_flos, windows, input_tokens);
  std::fputs(log_metrics_text("train", metrics).c_str(), stderr);
  save_metrics(run.output_dir, "train", metrics);
  MetricValues values = {
      {"epoch", state.epoch},
      {"total_flos", state.total_flos},
      {"train_loss", summary.mean_loss},
      // Rounded as Trainer's speed_metrics rounds what it logs (and
      // train_results.json holds).
      {"train_runtime", round_runtime(summary.seconds)},
      {"train_samples_per_second", round_rate(summary.windows_per_second)},
      {"train_steps_per_second",
       round_rate(double(summary.steps - summary.first_step) / std::max(1e-9, summary.seconds))}};
  if (input_tokens >= 0) values.emplace_back("num_input_tokens_seen", MetricValue::count(input_tokens));
  log_metrics(logs, summary.steps, values);
  if (summary.mean_loss_first_step > 0)
    std::fprintf(stderr, "[train] note: train_loss averages steps %lld-%lld only: the checkpoint resumed from "
                         "(format version 1) holds no loss total for the steps before\n",
                 static_cast<long long>(summary.mean_loss_first_step + 1), static_cast<long long>(summary.steps));
}

}  // namespace

OutputDirLock claim_output_dir(const RunSettings& run, const std::string& args_record, std::string* refusal) {
  make_directories(run.output_dir);
  OutputDirLock lock = OutputDirLock::acquire(run.output_dir);
  // run_qa.py's rule for a non-empty output_dir, made safe, before this run writes anything there.
  *refusal = run.do_train && !run.overwrite_output_dir
                 ? output_dir_refusal(run.output_dir, survey_output_dir(run.output_dir),
                                      !run.resume_from_checkpoint.empty())
                 : std::string();
  if (!refusal->empty()) return lock;
  check_writable_directory(run.output_dir);  // fail now, not after training
  // The arguments of a training run (Hugging Face keeps training_args.bin, saved with the model):
  // rerun it with this file. An evaluation or prediction into a trained model's directory leaves
  // the training's record as it is.
  if (run.do_train) write_file_atomic(join_path(run.output_dir, kTrainingArgsFile), args_record);
  return lock;
}

std::string resolve_resume_dir(const RunSettings& run, bool log) {
  const std::string& flag = run.resume_from_checkpoint;
  if (names_newest_checkpoint(flag)) {
    const std::string latest = find_latest_checkpoint(run.output_dir);
    if (latest.empty())
      throw_input_error(run.output_dir, "",
                        "--resume_from_checkpoint " + flag +
                            ": no checkpoint-N directory with training state here");
    return latest;
  }
  if (!flag.empty()) {
    // A training run's output directory (its final model beside checkpoint-N directories) is no
    // checkpoint; its trainer_state.json would otherwise pass for Hugging Face Trainer's.
    if (engine_state_file(flag).empty()) {
      const std::string newest = find_latest_checkpoint(flag);
      if (!newest.empty())
        throw_input_error(
            flag, "",
            "--resume_from_checkpoint names a training run's output directory, not a checkpoint: "
            "give its newest checkpoint, " +
                newest + " (or --output_dir " + flag +
                " --resume_from_checkpoint latest); to fine-tune on from its model, give it as "
                "--model_name_or_path");
    }
    return flag;
  }
  if (run.overwrite_output_dir) return "";
  const std::string latest = find_latest_checkpoint(run.output_dir);
  if (!latest.empty() && log)
    std::fprintf(stderr, "[train] %s holds checkpoints: resuming from the newest, %s "
                         "(--overwrite_output_dir starts afresh instead)\n",
                 run.output_dir.c_str(), latest.c_str());
  return latest;
}

void check_checkpoint_config(const std::string& checkpoint, const BertConfig& config, const std::string& model_dir) {
  const std::string path = join_path(checkpoint, "config.json");
  if (!path_exists(path)) throw_input_error(path, "", "missing (required to resume)");
  if (!same_model_fields(parse_bert_config(read_file(path), path), config))
    throw_input_error(path, "", "differs from " + join_path(model_dir, "config.json") +
                                    ": resume with the --model_name_or_path the checkpoint was trained from");
}

void prepare_output_dir_for_training(const RunSettings& run, int64_t resume_step,
                                     int64_t best_step) {
  if (const int removed = remove_stale_temporaries(run.output_dir))
    std::fprintf(
        stderr,
        "[train] removed %d leftovers of an interrupted save or checkpoint deletion in %s\n",
        removed, run.output_dir.c_str());
  if (run.overwrite_output_dir) {
    const std::vector<std::string> kept = clear_previous_run(run.output_dir);
    if (!kept.empty())
      std::fprintf(stderr, "[train] --overwrite_output_dir deleted what train_squad wrote in %s and kept %zu "
                           "entries it did not write (first: %s)\n",
                   run.output_dir.c_str(), kept.size(), kept.front().c_str());
  }
  truncate_metrics_log(join_path(run.output_dir, kMetricsLogFile), resume_step);  // a fresh run keeps nothing
  // A save rotates after its checkpoint is in place: a run killed in between left one too many,
  // which no later save removes when the run resumes at that (its last) checkpoint. Resuming
  // from an older one, the next save rotates as it always does.
  if (resume_step > 0 && run.save_total_limit > 0) {
    const std::vector<CheckpointEntry> checkpoints = list_checkpoints(run.output_dir);
    if (!checkpoints.empty() && checkpoints.back().step == resume_step)
      rotate_checkpoints(run.output_dir, run.save_total_limit, {resume_step, best_step});
  }
}

RunLogs open_run_logs(const std::string& output_dir, bool training, bool tensorboard,
                      const std::string& logging_dir) {
  RunLogs logs;
  if (training) logs.metrics = std::make_unique<MetricsLog>(join_path(output_dir, kMetricsLogFile));
  if (tensorboard) {
    // transformers 5 dropped --logging_dir for the TENSORBOARD_LOGGING_DIR environment variable
    // (~ expanded); both are honoured, the flag first.
    std::string dir = logging_dir;
    const char* env = std::getenv("TENSORBOARD_LOGGING_DIR");
    if (dir.empty() && env != nullptr && *env != '\0') {
      const char* home = std::getenv("HOME");
      dir = env[0] == '~' && (env[1] == '/' || env[1] == '\0') && home != nullptr ? home + std::string(env + 1) : env;
    }
    logs.tensorboard = std::make_unique<TensorBoardWriter>(dir.empty() ? default_logging_dir(output_dir) : dir);
    std::fprintf(stderr, "[report_to] TensorBoard events: %s\n", logs.tensorboard->path().c_str());
  } else if (!logging_dir.empty()) {
    std::fprintf(stderr, "[report_to] none: --logging_dir %s is not used\n", logging_dir.c_str());
  }
  if (const std::optional<KubeflowEndpoint> endpoint = kubeflow_endpoint_from_env();
      endpoint && training) {
    std::fprintf(stderr, "[report_to] kubeflow: progress goes to Kubeflow Trainer at %s\n",
                 endpoint->url.c_str());
    logs.kubeflow = std::make_unique<KubeflowStatusReporter>(*endpoint);
  }
  return logs;
}

namespace {

// An evaluation with the run's batch size, span selection and progress (none with
// --disable_tqdm).
EvalOutcome evaluate_in_run(const RunSettings& run, BertQaModel& model, const PreparedSquad& data,
                            const char* label) {
  return evaluate_with_progress(model, data.dataset, data.windows, run.eval_batch_size,
                                run.postprocess, label, run.progress_bar, run.progress_pace);
}

}  // namespace

EvalOutcome predict_and_write(const RunSettings& run, BertQaModel& model, const PreparedSquad& test,
                              double model_preparation_seconds) {
  EvalOutcome outcome = evaluate_in_run(run, model, test, "predict");
  outcome.model_preparation_seconds = model_preparation_seconds;
  const MetricsDict metrics = write_eval_outputs(run.output_dir, outcome, test.windows.size(),
                                                 run.eval_batch_size, -1.0, "predict");
  std::fputs(log_metrics_text("predict", metrics).c_str(), stderr);
  std::fprintf(stderr, "[predict] %zu questions, %zu windows in %.1f s (model %.2f s): %s%s\n",
               test.dataset.examples.size(), test.windows.size(), outcome.seconds, outcome.model_seconds,
               join_path(run.output_dir, "predict_predictions.json").c_str(),
               outcome.scored ? "" : " (not scored: questions without answers)");
  return outcome;
}

SquadScores evaluate_and_log(const RunSettings& run, BertQaModel& model, const PreparedSquad& eval,
                             int64_t step, double epoch, int64_t input_tokens_seen, RunLogs* logs,
                             bool final, double model_preparation_seconds) {
  EvalOutcome outcome = evaluate_in_run(run, model, eval, "eval");
  outcome.model_preparation_seconds = model_preparation_seconds;
  if (final) {
    const MetricsDict metrics =
        write_eval_outputs(run.output_dir, outcome, eval.windows.size(), run.eval_batch_size, epoch,
                           "eval", input_tokens_seen);
    std::fputs(log_metrics_text("eval", metrics).c_str(), stderr);
  }
  MetricValues values;
  if (epoch >= 0) values.emplace_back("epoch", epoch_value(epoch));
  const double seconds = std::max(1e-9, outcome.model_seconds);
  for (const NamedScore& score : outcome.scores.named)
    values.emplace_back("eval_" + score.name,
                        score.is_count ? MetricValue::count(static_cast<int64_t>(score.value))
                                       : MetricValue(score.value));
  // Rounded as Trainer's speed_metrics rounds them (eval_results.json holds the same values).
  // In the order of QuestionAnsweringTrainer.evaluate's dict: the scores, the evaluation loop's
  // preparation time, then speed_metrics.
  if (model_preparation_seconds >= 0)
    values.emplace_back("eval_model_preparation_time", round_runtime(model_preparation_seconds));
  values.insert(
      values.end(),
      {{"eval_runtime", round_runtime(outcome.model_seconds)},
       {"eval_samples_per_second", round_rate(eval.windows.size() / seconds)},
       {"eval_steps_per_second",
        round_rate(double(eval_batches(eval.windows.size(), run.eval_batch_size)) / seconds)}});
  if (input_tokens_seen >= 0) values.emplace_back("num_input_tokens_seen", MetricValue::count(input_tokens_seen));
  log_metrics(logs, step, values);
  std::fprintf(stderr, "[eval] step %lld: %s on %zu windows in %.1f s (model %.2f s, %.0f windows/s)%s\n",
               static_cast<long long>(step), scores_summary(outcome.scores).c_str(), eval.windows.size(),
               outcome.seconds, outcome.model_seconds, eval.windows.size() / std::max(1e-9, outcome.model_seconds),
               final ? ("; predictions in " + run.output_dir).c_str() : "");
  return outcome.scores;
}

namespace {

// The best evaluation so far, as transformers' _determine_best_metric keeps it: a new score
// wins when strictly better; its step is recorded only when checkpoints are saved. It rides in
// the saved TrainerState (best_metric, best_global_step).
struct BestEvaluation {
  double metric = std::numeric_limits<double>::quiet_NaN();  // NaN: no evaluation yet
  int64_t global_step = 0;                                    // 0: none recorded

  // True when `value` is the new best.
  bool consider(double value, bool greater_is_better, int64_t step, bool records_step) {
    if (!std::isnan(metric) && !(greater_is_better ? value > metric : value < metric)) return false;
    metric = value;
    if (records_step) global_step = step;
    return true;
  }
  TrainerState into(TrainerState state) const {
    state.best_metric = metric;
    state.best_global_step = global_step;
    return state;
  }
};

// The weights of the best checkpoint into the model: with its training state when it has one,
// else (--save_only_model) from its model files, verified against checksums.json either way.
void load_best_weights(const std::string& dir, BertQaModel& model, AdamWOptimizer& optimizer) {
  if (!engine_state_file(dir).empty()) {
    load_checkpoint(dir, model, optimizer);
    return;
  }
  verify_checkpoint_checksums(dir);
  model.set_parameters(load_model_dir(dir, 0).tensors);
}

// One training run around the Trainer. Rank 0's hooks show progress, log, save checkpoints,
// evaluate at --eval_strategy points and track the best model; the other ranks hold the same
// numbers and run the same steps, and only poll for stop signals.
class TrainingSession {
 public:
  TrainingSession(const RunSettings& run, const TrainConfig& tc, const TrainingJob& job, AdamWOptimizer& optimizer,
                  const TrainerState& start, int64_t total_steps, TrainingEnd* end)
      : run_(run), tc_(tc), job_(job), model_(*job.model), optimizer_(optimizer), root_(job.comm->is_root()),
        start_(start), end_(end), last_checkpoint_(job.resume_dir), best_{start.best_metric, start.best_global_step},
        progress_(total_steps, root_ && run.progress_bar && ProgressReporter::stderr_is_terminal()) {
    end_->last_save_step = job.resume_dir.empty() ? 0 : start.global_step;
    // Off a terminal the bar is a line every 30 s (TQDM_MININTERVAL when set; as an
    // evaluation's), besides the --logging_steps lines: a long run redirected to a log still
    // shows its pace and ETA. --disable_tqdm leaves the --logging_steps lines alone.
    progress_.set_redraw_interval(run.progress_pace.redraw_seconds);
    if (!run.progress_bar) {
      progress_.set_forced_lines_only();
    } else if (root_ && !ProgressReporter::stderr_is_terminal()) {
      progress_.set_line_interval(run.progress_pace.line_seconds);
    }
  }

  TrainHooks hooks() {
    TrainHooks hooks;
    hooks.stop_requested = [] { return stop_requested(); };
    if (!root_) return hooks;
    hooks.on_step = [this](const TrainProgress& p) {
      report_written();
      log_progress(p, &progress_, job_.logs);
    };
    hooks.on_checkpoint = [this](const TrainerState& state) { save(state, run_.save_only_model); };
    if (run_.save_only_model) hooks.on_resume_checkpoint = [this](const TrainerState& state) { save(state, false); };
    if (job_.eval != nullptr && tc_.eval_strategy != IntervalStrategy::kNo) {
      hooks.on_evaluate = [this](const TrainerState& state) { evaluate_during_training(state); };
      hooks.evaluation_metric = [this] { return last_metric_; };
    }
    return hooks;
  }

  // transformers' eval_on_start: a sanity check of the evaluation before the first step.
  void evaluate_on_start() {
    if (root_ && run_.eval_on_start && job_.eval != nullptr)
      evaluate_and_log(run_, model_, *job_.eval, start_.global_step, start_.epoch, logged_input_tokens(tc_, start_),
                       job_.logs, /*final=*/false);
    // The other ranks wait for it without the collectives' deadline (Trainer: evaluation points).
    if (run_.eval_on_start && job_.comm->world_size() > 1) job_.comm->wait_for_root("evaluation");
  }

  TrainSummary train(Trainer& trainer) {
    TrainSummary summary;
    try {
      summary = trainer.train(*job_.windows, hooks());
    } catch (...) {
      progress_.finish();  // the error line goes below the progress bar, not into it
      throw;
    }
    progress_.finish();
    // The last checkpoint is complete (or its error ends the run) before anything reads it. Its
    // write counts in the run's time, as a save inside Hugging Face's training loop does.
    const auto waiting = std::chrono::steady_clock::now();
    writer_.wait();
    report_written();
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - waiting).count();
    summary.windows_per_second *= summary.seconds / std::max(1e-9, summary.seconds + waited);
    summary.seconds += waited;
    end_->state = best_.into(trainer.state());
    return summary;
  }

  const std::string& last_checkpoint() const { return last_checkpoint_; }

  // Rank 0, after the last step: the best checkpoint's weights when --load_best_model_at_end
  // asks for them, and save_total_limit 1's rotation around the best checkpoint.
  void finalize_best_model(int64_t last_step) {
    const std::string best_dir = join_path(run_.output_dir, checkpoint_dir_name(best_.global_step));
    if (run_.load_best_model_at_end && best_.global_step > 0 && best_.global_step != last_step) {
      // transformers' _load_best_model: the best checkpoint's weights become the final model.
      if (path_exists(best_dir)) {
        std::fprintf(stderr, "[train] loading the best model from %s (%s %.4f)\n", best_dir.c_str(),
                     run_.metric_for_best_model.c_str(), best_.metric);
        load_best_weights(best_dir, model_, optimizer_);
      } else {
        std::fprintf(
            stderr,
            "[train] warning: the best evaluation's checkpoint %s is not there (not saved at "
            "that step, or deleted): the last weights are the final model\n",
            best_dir.c_str());
      }
    }
    // transformers' _finalize_training: with save_total_limit 1, the best checkpoint alone remains.
    if (run_.save_total_limit == 1 && best_.global_step > 0 && path_exists(best_dir))
      rotate_checkpoints(run_.output_dir, 1, {best_.global_step});
  }

  void write_model(const std::string& dir) const {
    save_model_dir(dir, *job_.config, model_.parameters(), job_.vocab_file, run_.tokenizer);
  }

 private:
  // The checkpoint of this step goes to the writer thread; the run goes on while it is written.
  void save(const TrainerState& state, bool model_only) {
    const auto started = std::chrono::steady_clock::now();
    const bool waits = writer_.busy();
    writer_.wait();  // the previous checkpoint first: its error ends the run here
    report_written();
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (waits)
      std::fprintf(stderr, "[train] step %lld waited %.1f s for the previous checkpoint's write\n",
                   static_cast<long long>(state.global_step), waited);
    const auto copy_started = std::chrono::steady_clock::now();
    CheckpointContents contents =
        capture_checkpoint(best_.into(state), model_, optimizer_, *job_.config, job_.vocab_file,
                           run_.tokenizer, model_only, writer_.take_spare());
    add_checkpoint_history(
        &contents, run_.output_dir, tc_,
        steps_per_epoch(job_.windows->size(), tc_.batch_size, job_.comm->world_size(),
                        tc_.gradient_accumulation_steps, tc_.dataloader_drop_last));
    copy_seconds_[state.global_step] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - copy_started).count();
    last_checkpoint_ = writer_.submit(run_.output_dir, std::move(contents), run_.save_total_limit);
    end_->last_save_step = state.global_step;
  }

  // Logs the checkpoints the writer has completed.
  void report_written() {
    for (const CheckpointWriter::Written& written : writer_.take_written()) {
      std::fprintf(stderr,
                   "[train] saved %s%s (copied at the step in %.2f s, written in %.1f s beside "
                   "training)\n",
                   written.path.c_str(), written.model_only ? " (model only)" : "",
                   copy_seconds_[written.step], written.seconds);
      copy_seconds_.erase(written.step);
    }
  }

  void evaluate_during_training(const TrainerState& state) {
    // Also at the last step, before its checkpoint, as DefaultFlowCallback asks: the final
    // evaluation (--do_eval, implied) then scores the same weights once more, as run_qa's does.
    progress_.finish();  // the evaluation's lines go below the progress bar
    const SquadScores scores = evaluate_and_log(run_, model_, *job_.eval, state.global_step, state.epoch,
                                                logged_input_tokens(tc_, state), job_.logs, /*final=*/false);
    if (run_.metric_for_best_model.empty()) return;
    // The flags and the evaluation set were checked for this score before training.
    const NamedScore* ranked = scores.find(run_.metric_for_best_model);
    BERT_CHECK(ranked != nullptr, "the evaluation gave no " + run_.metric_for_best_model + " score");
    last_metric_ = ranked->value;
    const bool new_best =
        best_.consider(ranked->value, run_.greater_is_better, state.global_step, run_.saves_checkpoints);
    if (new_best && run_.save_on_best) save(state, run_.save_only_model);  // --save_strategy best
  }

  const RunSettings& run_;
  const TrainConfig& tc_;
  const TrainingJob& job_;
  BertQaModel& model_;
  AdamWOptimizer& optimizer_;
  const bool root_;
  const TrainerState start_;  // fresh, or the resumed checkpoint's
  TrainingEnd* end_;
  std::string last_checkpoint_;
  BestEvaluation best_;
  // --metric_for_best_model's value at the last evaluation (reduce_lr_on_plateau steps with it).
  double last_metric_ = std::numeric_limits<double>::quiet_NaN();
  ProgressReporter progress_;
  // By step: how long the step waited for its checkpoint's copy to the host.
  std::map<int64_t, double> copy_seconds_;
  // Last, so it is destroyed first: a session left by an exception still completes the
  // checkpoint in flight (its thread refers to nothing of the session).
  CheckpointWriter writer_;
};

void announce_training(const TrainConfig& tc, size_t windows, const Communicator& comm, int64_t total) {
  const std::string ranks =
      comm.world_size() > 1 ? " x " + std::to_string(comm.world_size()) + " ranks (" + comm.name() + ")" : "";
  const std::string kwargs = tc.lr_schedule.kwargs_json == "{}" ? "" : " " + tc.lr_schedule.kwargs_json;
  std::fprintf(stderr, "[train] %zu windows, batch %d x %d accumulation%s, %lld steps, warmup %lld, schedule %s%s\n",
               windows, tc.batch_size, tc.gradient_accumulation_steps, ranks.c_str(), static_cast<long long>(total),
               static_cast<long long>(warmup_steps_for(tc, total)), lr_schedule_name(tc.lr_schedule.type),
               kwargs.c_str());
}

// Stop-signal handlers installed for the scope's life (engine/signals.h).
class StopSignalScope {
 public:
  StopSignalScope() { install_stop_signal_handlers(); }
  ~StopSignalScope() { restore_default_signal_handlers(); }
  StopSignalScope(const StopSignalScope&) = delete;
  StopSignalScope& operator=(const StopSignalScope&) = delete;
};

// A run stopped early (--stop_after_steps or a signal): where it stopped and the command that
// continues it (rank 0). Returns the exit status, the same on every rank.
int report_early_stop(const TrainSummary& summary, int64_t total, const TrainingJob& job,
                      const std::string& last_checkpoint) {
  const bool by_signal = summary.outcome == TrainOutcome::kStopRequested;
  const int signal = by_signal ? agree_on_stop_signal(*job.comm, stop_signal()) : 0;
  if (job.comm->is_root()) {
    const int ranks = job.comm->world_size();
    const std::string how =
        ranks > 1 ? " (under the launcher this job used, with as many ranks)" : "";
    const std::string launcher = ranks > 1 ? "mpirun -np " + std::to_string(ranks) + " " : "";
    std::fprintf(
        stderr,
        "[train] %s at step %lld/%lld; checkpoint: %s\n[train] to continue, run%s:\n  %s%s\n",
        by_signal ? (std::string("stopped by ") + signal_name(signal)).c_str()
                  : "stopped (--stop_after_steps)",
        static_cast<long long>(summary.steps), static_cast<long long>(total),
        last_checkpoint.c_str(), how.c_str(), launcher.c_str(),
        resume_command(job.command_line, last_checkpoint).c_str());
  }
  return by_signal ? exit_status_for_signal(signal) : 0;
}

}  // namespace

int run_training(const RunSettings& run, const TrainConfig& tc, const TrainingJob& job, TrainingEnd* end) {
  BertQaModel& model = *job.model;
  AdamWOptimizer optimizer(model, tc.optimizer);
  if (tc.save_steps > 0 || tc.stop_after_steps > 0) check_checkpointable(model.backend());
  Communicator& comm = *job.comm;
  const bool root = comm.is_root();
  Trainer trainer(model, optimizer, tc, &comm);
  if (!job.resume_dir.empty()) {  // every rank reads the same checkpoint (a shared filesystem)
    const TrainerState state = load_checkpoint(job.resume_dir, model, optimizer);
    trainer.resume(state, job.resume_dir);
    if (root)
      std::fprintf(stderr, "[train] resuming from %s at step %lld\n", job.resume_dir.c_str(),
                   static_cast<long long>(state.global_step));
  }
  const int64_t total = total_train_steps(tc, job.windows->size(), comm.world_size());
  if (root) announce_training(tc, job.windows->size(), comm, total);
  if (root && job.logs != nullptr && job.logs->kubeflow != nullptr)
    job.logs->kubeflow->on_train_begin(total);
  TrainingSession session(run, tc, job, optimizer, trainer.state(), total, end);
  session.evaluate_on_start();
  // SIGINT/SIGTERM stop the training at a step boundary, and during the final save below they
  // are noted and answered once the model and the run's records are written (the README's
  // promise); from then on (the evaluation) they act as usual.
  std::optional<StopSignalScope> stop_signals(std::in_place);
  const TrainSummary summary = session.train(trainer);
  // The ranks stop at the same step whichever of them a signal reached (any_rank in the
  // trainer); they also agree on which signal, so that every rank exits with the same status.
  if (summary.outcome != TrainOutcome::kCompleted) return report_early_stop(summary, total, job, session.last_checkpoint());
  const int late_signal = agree_on_stop_signal(comm, stop_signal());  // arrived during the last step
  if (!root) return late_signal != 0 ? exit_status_for_signal(late_signal) : -1;
  announce_final_save();
  session.finalize_best_model(summary.steps);
  session.write_model(run.output_dir);
  end->model_saved = true;
  write_train_results(run, tc, summary, trainer.state(), job.windows->size(), job.logs);
  // After the train metrics are logged, as Trainer calls on_train_end.
  if (job.logs != nullptr && job.logs->kubeflow != nullptr) job.logs->kubeflow->on_train_end();
  stop_signals.reset();
  std::fprintf(stderr, "[train] done: %lld steps in %.1f s (%.1f windows/s); model saved to %s\n",
               static_cast<long long>(summary.steps), summary.seconds, summary.windows_per_second,
               run.output_dir.c_str());
  if (const int signal = late_signal != 0 ? late_signal : stop_signal()) {
    const std::string command = evaluation_command(job.command_line, run.output_dir);
    const std::string eval_hint = command.empty()
                                      ? "eval_squad --model_name_or_path " + run.output_dir +
                                            " with this run's evaluation flags"
                                      : command;
    std::fprintf(
        stderr,
        "[train] %s received while finishing: the model and the run's records are saved in %s; "
        "evaluation skipped (%s runs it)\n",
        signal_name(signal), run.output_dir.c_str(), eval_hint.c_str());
    return exit_status_for_signal(signal);
  }
  return -1;
}

}  // namespace bert
