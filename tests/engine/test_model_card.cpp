// run_qa.py's model card (README.md), laid out as transformers 5.25's TrainingSummary writes it
// (checked against Trainer.create_model_card on a tiny run), with the evaluation results and
// table this engine adds; a user's own README.md is never replaced.
#include <catch2/catch.hpp>

#include <filesystem>

#include "core/file_io.h"
#include "engine/model_card.h"
#include "engine/output_dir.h"
#include "logging/metrics_log.h"
#include "tests/engine/resume_test_util.h"

namespace bert {
namespace {

TrainConfig card_config() {
  TrainConfig config;
  config.optimizer.learning_rate = 5e-05;
  config.batch_size = 4;
  config.seed = 42;
  config.gradient_accumulation_steps = 2;
  config.warmup_ratio = 0.1;
  config.max_steps = 4;
  return config;
}

// The card transformers 5.25 writes for this configuration (Trainer.create_model_card with
// finetuned_from="bert-base-uncased" after a run without evaluation), but for the optimizer's
// name (Trainer prints the enum, OptimizerNames.ADAMW_TORCH_FUSED) and the framework lines.
const char* const kExpectedWithoutEvaluation = R"(---
library_name: transformers
base_model: bert-base-uncased
tags:
- generated_from_trainer
model-index:
- name: card-run
  results: []
---

<!-- This model card has been generated automatically according to the information the Trainer had access to. You
should probably proofread and complete it, then remove this comment. -->

# card-run

This model is a fine-tuned version of [bert-base-uncased](https://huggingface.co/bert-base-uncased) on an unknown dataset.

## Model description

More information needed

## Intended uses & limitations

More information needed

## Training and evaluation data

More information needed

## Training procedure

### Training hyperparameters

The following hyperparameters were used during training:
- learning_rate: 5e-05
- train_batch_size: 4
- eval_batch_size: 8
- seed: 42
- gradient_accumulation_steps: 2
- total_train_batch_size: 8
- optimizer: Use adamw_torch_fused with betas=(0.9,0.999) and epsilon=1e-08 and optimizer_args=No additional optimizer arguments
- lr_scheduler_type: linear
- lr_scheduler_warmup_steps: 0.1
- training_steps: 4

### Training results



### Framework versions

)";

TEST_CASE("the model card is laid out as Trainer.create_model_card writes it", "[model_card]") {
  const std::string dir = test::fresh_temp_dir("bert_test_model_card");
  const ModelCardInfo info =
      training_model_card(dir + "/card-run/", "bert-base-uncased", card_config(), 8, 1, "adamw_torch_fused", "cpu");
  CHECK(info.model_name == "card-run");
  {
    MetricsLog log(dir + "/trainer_log.jsonl");
    for (int step = 1; step <= 4; ++step) log.write(step, {{"epoch", step / 4.0}, {"loss", 4.5 - step * 0.1}});
    log.write(4, {{"epoch", 1.0}, {"total_flos", 1e6}, {"train_loss", 4.25}, {"train_runtime", 0.5}});
  }
  const std::string card = model_card_markdown(info, dir + "/trainer_log.jsonl");
  const std::string expected = std::string(kExpectedWithoutEvaluation) + "- " + info.framework[0] + "\n- " +
                               info.framework[1] + "\n";
  CHECK(card == expected);
}

TEST_CASE("the model card lists the final evaluation and each evaluation during training", "[model_card]") {
  const std::string dir = test::fresh_temp_dir("bert_test_model_card_eval");
  {
    MetricsLog log(dir + "/trainer_log.jsonl");
    log.write(1, {{"epoch", 1 / 3.0}, {"loss", 4.55794084072113}});
    log.write(2, {{"epoch", 2 / 3.0}, {"loss", 4.25}});
    log.write(2, {{"epoch", 2 / 3.0}, {"eval_exact_match", 12.5}, {"eval_f1", 14.423076923076922},
                  {"eval_runtime", 0.01}, {"eval_samples_per_second", 800.0}, {"eval_steps_per_second", 100.0}});
    log.write(3, {{"epoch", 1.0}, {"loss", 4.0}});
    log.write(3, {{"epoch", 1.0}, {"eval_exact_match", 25.0}, {"eval_f1", 30.5}, {"eval_runtime", 0.01}});
    log.write(3, {{"epoch", 1.0}, {"train_loss", 4.2}, {"train_runtime", 0.5}});
    log.write(3, {{"epoch", 1.0}, {"eval_exact_match", 25.0}, {"eval_f1", 30.5}, {"eval_runtime", 0.01}});
  }
  TrainConfig config = card_config();
  config.gradient_accumulation_steps = 1;
  config.warmup_ratio = 0;
  config.max_steps = -1;
  config.num_train_epochs = 2;
  const ModelCardInfo info = training_model_card("runs/squad", "/data/models/minilm", config, 8, 4, "adamw_torch", "cuda");
  const std::string card = model_card_markdown(info, dir + "/trainer_log.jsonl");
  // A local path is named in the text, not linked or given as base_model.
  CHECK(card.find("base_model") == std::string::npos);
  CHECK_THAT(card, Catch::Contains("---\nlibrary_name: transformers\ntags:\n- generated_from_trainer\nmetrics:\n- f1\n"
                                   "model-index:\n- name: squad\n  results: []\n---\n"));
  CHECK_THAT(card, Catch::Contains("This model is a fine-tuned version of the model in `/data/models/minilm` on an "
                                   "unknown dataset.\nIt achieves the following results on the evaluation set:\n"
                                   "- Exact Match: 25.0\n- F1: 30.5\n\n## Model description\n"));
  CHECK_THAT(card, Catch::Contains("- seed: 42\n- distributed_type: multi-GPU\n- num_devices: 4\n"
                                   "- total_train_batch_size: 16\n- optimizer: Use adamw_torch with"));
  CHECK_THAT(card, Catch::Contains("- lr_scheduler_type: linear\n- num_epochs: 2.0\n\n### Training results\n\n"
                                   "| Training Loss | Epoch  | Step | Exact Match | F1      |\n"
                                   "|:-------------:|:------:|:----:|:-----------:|:-------:|\n"
                                   "| 4.25          | 0.6667 | 2    | 12.5        | 14.4231 |\n"
                                   "| 4.0           | 1.0    | 3    | 25.0        | 30.5    |\n\n\n### Framework versions\n"));
  CHECK_THAT(card, Catch::Contains("backend cuda"));

  // --dataset_name (and --dataset_config_name): run_qa's dataset_tags, dataset_args and dataset,
  // so the metadata names the dataset and model-index holds the F1 result (TrainingSummary's
  // create_model_index), and the text says which dataset.
  ModelCardInfo named = info;
  named.dataset_name = "rajpurkar/squad";
  named.dataset_config = "plain_text";
  const std::string with_dataset = model_card_markdown(named, dir + "/trainer_log.jsonl");
  CHECK_THAT(
      with_dataset,
      Catch::Contains(
          "tags:\n- generated_from_trainer\ndatasets:\n- rajpurkar/squad\nmetrics:\n- f1\n"
          "model-index:\n- name: squad\n  results:\n  - task:\n      name: Question Answering\n"
          "      type: question-answering\n    dataset:\n      name: rajpurkar/squad plain_text\n"
          "      type: rajpurkar/squad\n      args: plain_text\n    metrics:\n    - name: F1\n"
          "      type: f1\n      value: 30.5\n---\n"));
  CHECK_THAT(with_dataset,
             Catch::Contains("`/data/models/minilm` on the rajpurkar/squad plain_text dataset.\n"));
  named.dataset_config.clear();
  CHECK_THAT(
      model_card_markdown(named, dir + "/trainer_log.jsonl"),
      Catch::Contains("      name: rajpurkar/squad\n      type: rajpurkar/squad\n    metrics:\n") &&
          Catch::Contains("on the rajpurkar/squad dataset.\n"));
}

TEST_CASE("a run without training gets Trainer's card without results; it replaces no README.md",
          "[model_card]") {
  // The log of a training holds evaluations; a run that only evaluated must not list them.
  const std::string dir = test::fresh_temp_dir("bert_test_model_card_untrained");
  {
    MetricsLog log(dir + "/trainer_log.jsonl");
    log.write(
        3, {{"epoch", 1.0}, {"eval_exact_match", 25.0}, {"eval_f1", 30.5}, {"eval_runtime", 0.01}});
  }
  ModelCardInfo info = training_model_card(dir + "/eval", "bert-base-uncased", card_config(), 8, 1,
                                           "adamw_torch", "cpu");
  info.trained = false;
  info.dataset_name = "rajpurkar/squad";
  const std::string card = model_card_markdown(info, dir + "/trainer_log.jsonl");
  // What transformers 5.25's TrainingSummary writes when log_history has no train_runtime and no
  // eval_loss: no metrics tag, results [], no scores, no "Training results" section.
  CHECK_THAT(card, Catch::StartsWith(
                       "---\nlibrary_name: transformers\nbase_model: bert-base-uncased\ntags:\n"
                       "- generated_from_trainer\ndatasets:\n- rajpurkar/squad\nmodel-index:\n"
                       "- name: eval\n  results: []\n---\n"));
  CHECK_THAT(card,
             Catch::Contains("# eval\n\nThis model is a fine-tuned version of "
                             "[bert-base-uncased](https://huggingface.co/bert-base-uncased) on the "
                             "rajpurkar/squad dataset.\n\n## Model description\n"));
  CHECK_THAT(card,
             Catch::Contains("- training_steps: 4\n\n### Framework versions\n\n- train_squad"));
  CHECK_THAT(card, !Catch::Contains("Training results") && !Catch::Contains("It achieves") &&
                       !Catch::Contains("metrics:"));

  make_directories(dir + "/eval");
  CHECK(write_model_card(dir + "/eval", info, dir + "/trainer_log.jsonl"));
  CHECK(read_file(dir + "/eval/README.md") == card);
  // A training's generated card in output_dir stays: this run knows neither its results nor its
  // hyperparameters.
  ModelCardInfo trained = info;
  trained.trained = true;
  write_file_atomic(dir + "/eval/README.md",
                    model_card_markdown(trained, dir + "/trainer_log.jsonl"));
  CHECK_FALSE(write_model_card(dir + "/eval", info, dir + "/trainer_log.jsonl"));
  CHECK_THAT(read_file(dir + "/eval/README.md"), Catch::Contains("### Training results"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("a README.md without the generated notice is the user's: kept, and foreign to output_dir", "[model_card]") {
  const std::string dir = test::fresh_temp_dir("bert_test_model_card_user");
  const ModelCardInfo info = training_model_card(dir, "bert-base-uncased", card_config(), 8, 1, "adamw_torch", "cpu");
  write_file_atomic(dir + "/README.md", "# My model\n\nNotes of my own.\n");
  CHECK_FALSE(write_model_card(dir, info, dir + "/trainer_log.jsonl"));
  CHECK(read_file(dir + "/README.md") == "# My model\n\nNotes of my own.\n");
  CHECK(survey_output_dir(dir).foreign == std::vector<std::string>{"README.md"});

  std::filesystem::remove(dir + "/README.md");
  CHECK(write_model_card(dir, info, dir + "/trainer_log.jsonl"));
  CHECK(is_generated_model_card(dir + "/README.md"));
  const OutputDirSurvey survey = survey_output_dir(dir);
  CHECK(survey.finished == std::vector<std::string>{"README.md"});
  CHECK(survey.foreign.empty());
  CHECK(write_model_card(dir, info, dir + "/trainer_log.jsonl"));  // a generated card is replaced
  CHECK(clear_previous_run(dir).empty());
  CHECK_FALSE(std::filesystem::exists(dir + "/README.md"));
}

}  // namespace
}  // namespace bert
