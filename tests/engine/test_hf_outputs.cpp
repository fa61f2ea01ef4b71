// run_qa.py's output files: sorted keys and Python's number formats, all_results.json merging
// the splits, trainer_state.json's log_history from trainer_log.jsonl.
#include <catch2/catch.hpp>

#include <filesystem>

#include "core/file_io.h"
#include "engine/hf_outputs.h"
#include "logging/metrics_log.h"
#include "tests/engine/resume_test_util.h"

namespace bert {
namespace {

TEST_CASE("metrics dicts are written as json.dumps(indent=4, sort_keys=True)", "[hf_outputs]") {
  MetricsDict m;
  m["train_loss"] = metric_float(1.5);
  m["epoch"] = metric_float(2.0);
  m["train_samples"] = metric_int(88641);
  m["train_runtime"] = metric_float(1e-05);
  CHECK(metrics_dict_json(m) ==
        "{\n    \"epoch\": 2.0,\n    \"train_loss\": 1.5,\n    \"train_runtime\": 1e-05,\n"
        "    \"train_samples\": 88641\n}\n");
}

TEST_CASE("log_metrics_text prints Trainer.log_metrics' block", "[hf_outputs]") {
  // The expected text is what transformers 5.25's log_metrics printed for the same dict.
  MetricsDict m;
  m["epoch"] = metric_float(2.0);
  m["total_flos"] = metric_float(3.5e15);
  m["train_loss"] = metric_float(1.234567891);
  m["train_runtime"] = metric_float(90061.2899);
  m["train_samples"] = metric_int(88641);
  m["train_samples_per_second"] = metric_float(123.456);
  m["train_steps_per_second"] = metric_float(0.125);
  m["eval_runtime"] = metric_float(0.29);
  m["eval_f1"] = metric_float(88.52000049);
  CHECK(log_metrics_text("train", m) ==
        "***** train metrics *****\n"
        "  epoch                    =               2.0\n"
        "  eval_f1                  =             88.52\n"
        "  eval_runtime             =        0:00:00.28\n"
        "  total_flos               =         3259629GF\n"
        "  train_loss               =            1.2346\n"
        "  train_runtime            = 1 day, 1:01:01.28\n"
        "  train_samples            =             88641\n"
        "  train_samples_per_second =           123.456\n"
        "  train_steps_per_second   =             0.125\n");
  // round(v, 4) as Python rounds: 5e-05 lies just above the tie, 2.675e-05 below 0.00005.
  CHECK(log_metrics_text("eval", {{"a", metric_float(5e-05)}, {"b", metric_float(2.675e-05)}}) ==
        "***** eval metrics *****\n  a = 0.0001\n  b =    0.0\n");
}

TEST_CASE("save_metrics writes <split>_results.json and merges all_results.json", "[hf_outputs]") {
  const std::string dir = test::fresh_temp_dir("bert_test_hf_outputs");
  save_metrics(dir, "train", {{"train_loss", metric_float(0.75)}, {"epoch", metric_float(1.0)}});
  save_metrics(dir, "eval", {{"eval_f1", metric_float(88.5)}, {"epoch", metric_float(1.0)}});
  CHECK(read_file(dir + "/eval_results.json") == "{\n    \"epoch\": 1.0,\n    \"eval_f1\": 88.5\n}\n");
  CHECK(read_file(dir + "/all_results.json") ==
        "{\n    \"epoch\": 1.0,\n    \"eval_f1\": 88.5,\n    \"train_loss\": 0.75\n}\n");
  write_file_atomic(dir + "/all_results.json", "not json");
  save_metrics(dir, "eval", {{"eval_f1", metric_float(90.0)}});
  CHECK(read_file(dir + "/all_results.json") == "{\n    \"eval_f1\": 90.0\n}\n");
  std::filesystem::remove_all(dir);
}

TEST_CASE(
    "eval_metrics: the model's time as runtime, epoch 0 without training, the preparation time",
    "[hf_outputs]") {
  EvalOutcome outcome;
  outcome.scores.named = {{"exact_match", 50.0, false}, {"f1", 62.5, false}};
  outcome.seconds = 4.0;        // with the span selection and the metric
  outcome.model_seconds = 2.0;  // Trainer's speed_metrics stops here
  // After training: the float epoch, no preparation time.
  MetricsDict trained = eval_metrics(outcome, 100, 8, 2.0);
  CHECK(trained.at("epoch") == "2.0");
  CHECK(trained.at("eval_runtime") == "2.0");
  CHECK(trained.at("eval_samples_per_second") == "50.0");
  CHECK(trained.at("eval_steps_per_second") == "6.5");  // 13 batches of 8
  CHECK(trained.count("eval_model_preparation_time") == 0);
  // Without training (transformers >= 5.3): TrainerState's integer epoch 0, and the time the
  // model took to be placed, rounded to 4 digits as Trainer rounds it.
  outcome.model_preparation_seconds = 0.012345;
  MetricsDict untrained = eval_metrics(outcome, 100, 8, 0.0);
  CHECK(untrained.at("epoch") == "0");
  CHECK(untrained.at("eval_model_preparation_time") == "0.0123");
  CHECK(metrics_dict_json(untrained).find("\"epoch\": 0,\n") != std::string::npos);
  // Predict: the "test" prefix, no epoch.
  MetricsDict predicted = eval_metrics(outcome, 100, 8, -1.0, "predict");
  CHECK(predicted.count("epoch") == 0);
  CHECK(predicted.at("test_model_preparation_time") == "0.0123");
  CHECK(predicted.at("test_runtime") == "2.0");
  CHECK(epoch_value(0.0).is_count);
  CHECK_FALSE(epoch_value(0.5).is_count);
}

TEST_CASE("an evaluation's files appear together or not at all", "[hf_outputs]") {
  const std::string dir = test::fresh_temp_dir("bert_test_eval_outputs");
  EvalOutcome outcome;
  outcome.scored = false;
  outcome.predictions.version_2_with_negative = true;
  write_eval_outputs(dir, outcome, 0, 8, 1.0, "eval", -1);
  for (const char* name : {"eval_predictions.json", "eval_nbest_predictions.json",
                           "eval_null_odds.json", "eval_results.json", "all_results.json"})
    CHECK(path_exists(join_path(dir, name)));
  // An earlier evaluation's files, and one output that cannot be written (a directory in its
  // place): nothing of the new evaluation replaces the old files.
  for (const char* name : {"eval_predictions.json", "eval_results.json"})
    write_file_atomic(join_path(dir, name), "old");
  std::filesystem::remove(join_path(dir, "eval_null_odds.json"));
  make_directories(join_path(dir, "eval_null_odds.json"));
  CHECK_THROWS(write_eval_outputs(dir, outcome, 0, 8, 2.0, "eval", -1));
  CHECK(read_file(join_path(dir, "eval_predictions.json")) == "old");
  CHECK(read_file(join_path(dir, "eval_results.json")) == "old");
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("trainer_state.json carries the whole log history, keys sorted", "[hf_outputs]") {
  const std::string dir = test::fresh_temp_dir("bert_test_hf_state");
  {
    MetricsLog log(dir + "/trainer_log.jsonl");
    log.write(10, {{"loss", 2.5}, {"learning_rate", 3e-05}, {"epoch", 0.5}});
    log.write(20, {{"epoch", 1.0}, {"eval_f1", 80.25}, {"num_input_tokens_seen", MetricValue::count(7680)}});
  }
  HfTrainerState state;
  state.global_step = 20;
  state.max_steps = 20;
  state.epoch = 1.0;
  state.num_train_epochs = 1;
  state.logging_steps = 10;
  state.eval_steps = 20;
  state.save_steps = 500;
  state.train_batch_size = 32;
  const std::string json = hf_trainer_state_json(state, dir + "/trainer_log.jsonl");
  CHECK_THAT(json, Catch::Contains("  \"log_history\": [\n    {\n      \"epoch\": 0.5,\n      \"learning_rate\": 3e-05,\n"
                                   "      \"loss\": 2.5,\n      \"step\": 10\n    },\n    {\n      \"epoch\": 1.0,\n"
                                   "      \"eval_f1\": 80.25,\n      \"num_input_tokens_seen\": 7680,\n"
                                   "      \"step\": 20\n    }\n  ],\n"));
  CHECK_THAT(json, Catch::Contains("\"global_step\": 20,") && Catch::Contains("\"train_batch_size\": 32,"));
  // Trainer's control at its last checkpoint, as transformers 5.25's save_state writes it
  // (json.dumps(indent=2, sort_keys=True)); none saved: all false.
  CHECK_THAT(json, Catch::Contains("  \"stateful_callbacks\": {\n    \"TrainerControl\": {\n      \"args\": {\n"
                                   "        \"should_epoch_stop\": false,\n        \"should_evaluate\": false,\n"
                                   "        \"should_log\": false,\n        \"should_save\": false,\n"
                                   "        \"should_training_stop\": false\n      },\n      \"attributes\": {}\n"
                                   "    }\n  },\n"));
  state.control_should_save = state.control_should_training_stop = true;
  CHECK_THAT(hf_trainer_state_json(state, dir + "/trainer_log.jsonl"),
             Catch::Contains("\"should_save\": true,\n        \"should_training_stop\": true\n"));
  // The top-level keys of transformers 5's TrainerState, sorted as save_state writes them.
  const std::vector<std::string> hf_keys = {
      "best_global_step", "best_metric", "best_model_checkpoint", "epoch", "eval_steps", "global_step",
      "is_hyper_param_search", "is_local_process_zero", "is_world_process_zero", "log_history", "logging_steps",
      "max_steps", "num_input_tokens_seen", "num_train_epochs", "save_steps", "stateful_callbacks", "total_flos",
      "train_batch_size", "trial_name", "trial_params"};
  std::vector<std::string> keys;
  for (size_t at = json.find("\n  \""); at != std::string::npos; at = json.find("\n  \"", at + 1))
    keys.push_back(json.substr(at + 4, json.find('"', at + 4) - at - 4));
  CHECK(keys == hf_keys);
  CHECK(hf_trainer_state_json(state, dir + "/missing.jsonl").find("\"log_history\": [],") != std::string::npos);
  // A path as save_state's json.dumps writes it: non-ASCII escaped.
  state.best_model_checkpoint = "runs/\xC3\xA9t\xC3\xA9/checkpoint-20";
  CHECK_THAT(hf_trainer_state_json(state, dir + "/missing.jsonl"),
             Catch::Contains("\"best_model_checkpoint\": \"runs/\\u00e9t\\u00e9/checkpoint-20\","));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bert
