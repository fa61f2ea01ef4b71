// eval_squad: scores SQuAD v1.1 predictions with the official metric (v2.0's with
// --version_2_with_negative: exact, f1, total, HasAns_*, NoAns_*, best_* as Hugging Face's
// squad_v2 metric returns them, see data/squad_metric_v2.h).
//
// Metric mode (the official evaluate-v1.1.py, same numbers, same output line):
//   eval_squad --validation_file dev-v1.1.json --predictions_file predictions.json
// prints {"exact_match": X, "f1": Y} on stdout, with Python's float repr. Questions without a
// prediction score 0 and are reported on stderr (count and the first ids), as are predictions
// for ids the dataset does not hold.
//
// Model mode (predict with a fine-tuned model directory, then score):
//   eval_squad --model_name_or_path DIR --validation_file dev-v1.1.json --output_dir D
// windows the questions, predicts every window, selects spans as Hugging Face's
// postprocess_qa_predictions, writes D/eval_predictions.json, D/eval_nbest_predictions.json,
// D/eval_results.json and D/all_results.json with run_qa.py's names and keys (eval_exact_match,
// eval_f1, eval_samples, ...; v2.0 adds D/eval_null_odds.json), and prints the same line.
// In both modes --dataset_name NAME (with --dataset_config_name, --cache_dir) takes the validation
// split from the Hugging Face datasets cache instead of --validation_file, as run_qa.py does
// (apps/dataset_location.h).
// Exit status: 0 success, 1 an error (bad file, ...), 2 a bad command line.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>

#include "apps/app_main.h"
#include "apps/dataset_location.h"
#include "apps/flag_checks.h"
#include "apps/flags.h"
#include "apps/model_location.h"
#include "comm/communicator.h"
#include "core/error.h"
#include "core/file_io.h"
#include "data/predictions_io.h"
#include "data/prepared_squad.h"
#include "data/squad.h"
#include "data/squad_metric.h"
#include "data/squad_metric_v2.h"
#include "engine/backend_registry.h"
#include "engine/bert_qa_model.h"
#include "engine/evaluator.h"
#include "engine/hf_outputs.h"
#include "io/model_dir.h"
#include "io/tokenizer_config.h"
#include "logging/progress.h"
#include "tokenizer/tokenizer.h"

namespace bert {
namespace {

struct EvalOptions {
  std::string validation_file;
  DatasetFlags dataset;  // run_qa's: the validation split from the datasets cache
  std::string predictions_file;
  std::string model_name_or_path, output_dir, device = "auto";
  int32_t max_seq_length = 384, doc_stride = 128, per_device_eval_batch_size = 8;
  int32_t n_best_size = 20, max_answer_length = 30;
  int64_t max_eval_samples = -1, seed = 42;
  bool do_lower_case = true, version_2_with_negative = false;
  double null_score_diff_threshold = 0.0, na_prob_thresh = 1.0;
  std::string na_prob_file;
  std::string cache_dir;  // the Hugging Face cache a Hub id is read from (apps/model_location.h)
};

void register_flags(FlagParser* parser, EvalOptions* options) {
  parser->add_string("validation_file", &options->validation_file,
                     "SQuAD v1.1 (or, with --version_2_with_negative, v2.0) file holding the questions and their "
                     "answers: the official JSON, datasets' rows (JSON, JSON Lines) or a datasets Arrow cache file");
  parser->add_bool("version_2_with_negative", &options->version_2_with_negative,
                   "SQuAD v2.0: some questions have no answer; score with the v2.0 metric (an empty prediction "
                   "answers 'no answer') and, in model mode, let the null answer compete");
  parser->add_double(
      "null_score_diff_threshold", &options->null_score_diff_threshold,
      "v2.0, model mode: predict no answer when the null score exceeds the best span's by more "
      "than this (inf: never, -inf: always)",
      FlagParser::Infinity::kAllowed);
  parser->add_string("na_prob_file", &options->na_prob_file,
                     "v2.0, metric mode: {question id: no-answer probability or score} as the official script's "
                     "--na-prob-file (eval_null_odds.json serves: best_f1_thresh is then the "
                     "--null_score_diff_threshold that scores best)");
  parser->add_double(
      "na_prob_thresh", &options->na_prob_thresh,
      "v2.0, metric mode, with --na_prob_file: above it a question counts as answered 'no answer'",
      FlagParser::Infinity::kAllowed);
  parser->add_string("predictions_file", &options->predictions_file,
                     "JSON object {question id: answer text} to score (metric mode)");
  register_dataset_flags(parser, &options->dataset, "its validation split replaces --validation_file");
  parser->add_string("model_name_or_path", &options->model_name_or_path,
                     "fine-tuned model directory to predict with (model mode), or a Hub id in the Hugging Face "
                     "cache");
  parser->add_string("cache_dir", &options->cache_dir,
                     "the Hugging Face cache a Hub id given as --model_name_or_path (default: $HF_HUB_CACHE, "
                     "$HF_HOME/hub, ~/.cache/huggingface/hub) and --dataset_name are read from; nothing is "
                     "downloaded");
  parser->add_string("output_dir", &options->output_dir,
                     "where model mode writes eval_predictions.json, eval_nbest_predictions.json, "
                     "eval_results.json, all_results.json");
  parser->add_string("device", &options->device, "auto, cpu or cuda (model mode)");
  parser->add_int("max_seq_length", &options->max_seq_length, "tokens per window (model mode)");
  parser->add_int("doc_stride", &options->doc_stride, "tokens of overlap between windows (model mode)");
  parser->add_int("per_device_eval_batch_size", &options->per_device_eval_batch_size,
                  "windows per batch (model mode)");
  parser->add_int("n_best_size", &options->n_best_size, "start/end candidates per window (model mode)");
  parser->add_int("max_answer_length", &options->max_answer_length, "longest answer in tokens (model mode)");
  parser->add_int64("max_eval_samples", &options->max_eval_samples,
                    "evaluate the first N questions (at most N windows) (model mode)");
  parser->add_int64("seed", &options->seed, "seed of what the checkpoint lacks: the qa_outputs head of a base model, every weight of a config-only directory (model mode)");
  parser->add_renamed("per_gpu_eval_batch_size", "per_device_eval_batch_size",
                      "transformers' name for it");
  parser->add_renamed("no_cuda", "device", "give --device cpu");
  parser->add_bool("do_lower_case", &options->do_lower_case,
                   "lower-case and strip accents (model mode); when not given, the model directory's "
                   "tokenizer_config.json decides, else true");
}

void report_coverage(const SquadScores& scores, const std::string& predictions_file) {
  if (scores.unanswered > 0) {
    const std::string ids = listed_ids(scores.unanswered_ids, scores.unanswered);
    std::fprintf(stderr, "warning: %lld of %lld questions have no prediction in %s and score 0 (%s)\n",
                 static_cast<long long>(scores.unanswered), static_cast<long long>(scores.total),
                 predictions_file.c_str(), ids.c_str());
  }
  if (scores.unknown_predictions > 0) {
    std::fprintf(stderr, "warning: %lld predictions in %s name no question of the dataset (ignored)\n",
                 static_cast<long long>(scores.unknown_predictions), predictions_file.c_str());
  }
}

int run_metric_mode(const EvalOptions& options) {
  // As the official script: the answers' text is scored, their answer_start never read.
  const SquadDataset dataset = read_squad(options.validation_file, AnswerStarts::kMayMismatch);
  if (dataset.mismatched_answers > 0)
    std::fprintf(
        stderr,
        "warning: %zu answer(s) have no answer_start at which the context holds their text "
        "(the first: %s); the metric reads only the answers' text, as the official script "
        "does, but training and model mode refuse this file\n",
        dataset.mismatched_answers, dataset.first_mismatched_answer.c_str());
  const bool v2 = options.version_2_with_negative;
  if (v2) check_impossible_questions(dataset, options.validation_file);
  if (!v2) {
    // Unanswerable questions are refused (naming the flag); another version only warned of, as
    // the official script does.
    if (std::any_of(dataset.examples.begin(), dataset.examples.end(),
                    [](const SquadExample& e) { return e.is_impossible || e.answers.empty(); }))
      check_squad_version(dataset, options.validation_file, false);
    // Rows (datasets' JSON, JSON Lines, Arrow) carry no version: nothing to warn of.
    if (!dataset.version.empty() && dataset.version != "1.1")
      std::fprintf(stderr, "warning: %s has version '%s'; the metric is SQuAD v1.1's\n",
                   options.validation_file.c_str(), dataset.version.c_str());
  }
  std::vector<std::string> ids_in_file_order;
  const PredictionMap predictions = read_predictions(options.predictions_file, &ids_in_file_order);
  NoAnswerProbabilities no_answer;
  if (!options.na_prob_file.empty()) {
    no_answer.in_file_order = read_no_answer_probabilities(options.na_prob_file);
    no_answer.threshold = options.na_prob_thresh;
    no_answer.path = options.na_prob_file;
  } else {
    // Hugging Face's squad_v2 metric gives every prediction the no-answer probability 0, so
    // best_exact and best_f1 walk the questions in the predictions' order: this file's.
    for (const std::string& id : ids_in_file_order) no_answer.in_file_order.emplace_back(id, 0.0);
    no_answer.path = options.predictions_file;
  }
  const SquadScores scores = evaluate_squad_version(dataset, predictions, v2, &no_answer);
  report_coverage(scores, options.predictions_file);
  std::printf("%s\n", scores_to_json(scores).c_str());
  return 0;
}

// Model mode's flag ranges, before any work: a bad value exits 2 naming the flag.
void check_model_mode_flags(const EvalOptions& options) {
  check_device_flag(options.device);
  check_window_flags(options.max_seq_length, options.doc_stride);
  check_batch_flag("per_device_eval_batch_size", options.per_device_eval_batch_size, options.max_seq_length);
  check_span_flags(options.n_best_size, options.max_answer_length);
  check_flag_sample_limit("max_eval_samples", options.max_eval_samples);
}

int run_model_mode(EvalOptions options, bool do_lower_case_given) {
  const ProgressPace progress_pace = progress_pace_from_env();  // a bad TQDM_MININTERVAL fails now
  // An output_dir that cannot be written fails now, not after the whole evaluation, and so does
  // an output that would replace the input or is no regular file (a directory in its place).
  for (const std::string& output : eval_output_paths(options.output_dir)) {
    check_distinct_paths("output_dir", output, "validation_file", options.validation_file,
                         "writing " + output + " would replace the input");
    check_output_file(output);
  }
  make_directories(options.output_dir);
  check_writable_directory(options.output_dir);
  std::vector<std::string> notes;
  options.model_name_or_path = resolve_model_location(options.model_name_or_path, "main", options.cache_dir, &notes);
  for (const std::string& note : notes) std::fprintf(stderr, "[model] %s\n", note.c_str());
  LoadedModel loaded = load_model_dir(options.model_name_or_path, static_cast<uint64_t>(options.seed));
  for (const std::string& note : loaded.notes) std::fprintf(stderr, "[model] %s\n", note.c_str());
  // Scores of random weights are a baseline at best: said loudly, never mistaken for a model's.
  if (loaded.random_init)
    std::fprintf(stderr, "%s\n",
                 untrained_model_warning(options.model_name_or_path, options.seed, false).c_str());
  else if (loaded.qa_head_initialised)
    std::fprintf(stderr,
                 "warning: %s has no qa_outputs.weight (a base or pre-training checkpoint, not one "
                 "fine-tuned for "
                 "question answering): the answers come from a randomly initialised head (seed "
                 "%lld), so these "
                 "scores are an untrained model's; fine-tune it with train_squad first\n",
                 options.model_name_or_path.c_str(), static_cast<long long>(options.seed));
  const TokenizerChoice lower =
      read_tokenizer_config(options.model_name_or_path, do_lower_case_given, options.do_lower_case);
  options.do_lower_case = lower.do_lower_case;
  std::fprintf(stderr, "[tokenizer] %s\n", lower.note.c_str());
  const std::string clamped = clamp_max_seq_length(
      lower.model_max_length, join_path(options.model_name_or_path, "tokenizer_config.json"), &options.max_seq_length);
  if (!clamped.empty()) std::fprintf(stderr, "%s\n", clamped.c_str());
  check_max_seq_length_fits(options.max_seq_length, loaded.config.max_position_embeddings,
                            join_path(options.model_name_or_path, "config.json"));
  const std::unique_ptr<Tokenizer> tokenizer =
      load_tokenizer(options.model_name_or_path, options.do_lower_case, lower.keep_accents);
  check_tokenizer_fits(tokenizer->vocab_size(), loaded.config, loaded.vocab_file);
  const std::unique_ptr<Backend> backend = make_backend(options.device);
  check_backend_runs_model(*backend, loaded.config, join_path(options.model_name_or_path, "config.json"));
  bool batch_to_blame = false;
  const std::string shortfall = describe_memory_shortfall(
      *backend, loaded.config, int64_t(options.per_device_eval_batch_size) * options.max_seq_length,
      options.per_device_eval_batch_size, false, &batch_to_blame);
  if (!shortfall.empty() && batch_to_blame)
    throw FlagError("--per_device_eval_batch_size " + std::to_string(options.per_device_eval_batch_size) +
                    " at --max_seq_length " + std::to_string(options.max_seq_length) + ": " + shortfall +
                    "; give a smaller batch");
  if (!shortfall.empty())
    throw_input_error(join_path(options.model_name_or_path, "config.json"), largest_size_field(loaded.config),
                      "the model " + shortfall);
  const std::string space = describe_address_space_shortfall(
      *backend, loaded.config, int64_t(options.per_device_eval_batch_size) * options.max_seq_length,
      options.per_device_eval_batch_size, false, /*weights_loaded=*/true);
  if (!space.empty()) throw BertError("this run " + space);
  PrepareOptions prepare;
  prepare.window = WindowConfig{options.max_seq_length, options.doc_stride};
  prepare.do_lower_case = options.do_lower_case;
  prepare.max_samples = options.max_eval_samples;
  prepare.version_2_with_negative = options.version_2_with_negative;
  const PreparedSquad eval = prepare_squad(options.validation_file, *tokenizer, prepare, "eval");
  if (!options.version_2_with_negative)
    require_scorable(eval.dataset, "eval_squad scores the predictions against them; train_squad --do_predict "
                                   "--test_file predicts without answers");

  // As run_qa --do_eval without training: the model's placement on the backend is reported as
  // eval_model_preparation_time, the evaluation is logged at epoch 0.
  double model_preparation_seconds = 0;
  const std::unique_ptr<BertQaModel> placed = place_bert_qa_model(
      *backend, loaded.config, options.per_device_eval_batch_size * options.max_seq_length,
      options.per_device_eval_batch_size, loaded.tensors, &model_preparation_seconds);
  BertQaModel& model = *placed;
  const PostprocessConfig postprocess{options.n_best_size, options.max_answer_length,
                                      options.version_2_with_negative,
                                      options.null_score_diff_threshold};
  EvalOutcome outcome =
      evaluate_with_progress(model, eval.dataset, eval.windows, options.per_device_eval_batch_size,
                             postprocess, "eval", /*show=*/true, progress_pace);
  // A training's saved model evaluated into its own output_dir (evaluation_command, after a
  // signal skipped the training's final evaluation): logged as that evaluation would have been,
  // at the training's epoch. Any other model, or directory, is a run without training.
  std::error_code same_error;
  const bool own_output_dir =
      std::filesystem::equivalent(options.model_name_or_path, options.output_dir, same_error);
  const double trained_epoch = own_output_dir ? saved_training_epoch(options.output_dir) : -1.0;
  if (trained_epoch >= 0)
    std::fprintf(stderr,
                 "[eval] %s holds a training's trainer_state.json: logged at its epoch %g\n",
                 options.output_dir.c_str(), trained_epoch);
  else
    outcome.model_preparation_seconds = model_preparation_seconds;
  const MetricsDict metrics = write_eval_outputs(options.output_dir, outcome, eval.windows.size(),
                                                 options.per_device_eval_batch_size,
                                                 trained_epoch >= 0 ? trained_epoch : 0.0);
  std::fputs(log_metrics_text("eval", metrics).c_str(), stderr);
  report_coverage(outcome.scores, join_path(options.output_dir, "eval_predictions.json"));
  std::fprintf(stderr,
               "[eval] %zu windows in %.1f s (%.1f windows/s; the model's forward passes %.2f s, "
               "%.1f windows/s); predictions in %s\n",
               eval.windows.size(), outcome.seconds,
               eval.windows.size() / std::max(1e-9, outcome.seconds), outcome.model_seconds,
               eval.windows.size() / std::max(1e-9, outcome.model_seconds), options.output_dir.c_str());
  std::printf("%s\n", scores_to_json(outcome.scores).c_str());
  return 0;
}

int run(int argc, char** argv) {
  EvalOptions options;
  FlagParser parser("eval_squad",
                    "Scores SQuAD v1.1 predictions with the official EM/F1 metric (v2.0 with "
                    "--version_2_with_negative): a --predictions_file's, or a model's "
                    "(--model_name_or_path: it predicts every window first and writes run_qa's "
                    "files into --output_dir).");
  register_flags(&parser, &options);
  if (!parser.parse(argc, argv)) return 0;  // --help
  refuse_several_ranks(
      "eval_squad", "evaluate everything",
      "run it without mpirun (train_squad --do_eval evaluates on rank 0 of a data-parallel run)");
  for (const std::string& note : parser.notes()) std::fprintf(stderr, "[flags] %s\n", note.c_str());
  std::vector<std::string> dataset_notes;
  resolve_dataset_name(options.dataset, options.cache_dir,
                       {{&options.validation_file, "validation_file", "validation", true}}, &dataset_notes);
  for (const std::string& note : dataset_notes) std::fprintf(stderr, "[data] %s\n", note.c_str());
  if (options.dataset.name.empty()) parser.require("validation_file", "(or --dataset_name)");
  if ((parser.was_set("na_prob_file") || parser.was_set("na_prob_thresh")) && !options.version_2_with_negative)
    throw FlagError("--na_prob_file and --na_prob_thresh belong to SQuAD v2.0's metric: give --version_2_with_negative");
  if (parser.was_set("na_prob_thresh") && !parser.was_set("na_prob_file"))
    throw FlagError("--na_prob_thresh applies the probabilities of --na_prob_file: give it too");
  if (parser.was_set("model_name_or_path")) {
    if (parser.was_set("na_prob_file"))
      throw FlagError("--na_prob_file is for metric mode (--predictions_file); model mode scores as run_qa does, "
                      "every no-answer probability 0, and writes eval_null_odds.json for it");
    if (parser.was_set("predictions_file"))
      throw FlagError("give either --predictions_file (metric mode) or --model_name_or_path (model mode), not both");
    parser.require("output_dir", "(model mode)");
    check_model_mode_flags(options);
    return run_model_mode(options, parser.was_set("do_lower_case"));
  }
  parser.require("predictions_file", "(metric mode; or --model_name_or_path for model mode)");
  // Metric mode scores a predictions file: a model-mode flag would change nothing, silently.
  for (const char* flag :
       {"output_dir", "device", "max_seq_length", "doc_stride", "per_device_eval_batch_size",
        "n_best_size", "max_answer_length", "max_eval_samples", "seed", "do_lower_case",
        "null_score_diff_threshold"})
    if (parser.was_set(flag))
      throw FlagError(
          std::string("--") + flag +
          " belongs to model mode (--model_name_or_path); metric mode scores --predictions_file as "
          "it is");
  return run_metric_mode(options);
}

}  // namespace
}  // namespace bert

int main(int argc, char** argv) { return bert::run_app(bert::run, argc, argv); }
