// transformers' best-model tracking through train_squad: --metric_for_best_model ranks the
// evaluations during training, trainer_state.json names the best, --save_total_limit keeps its
// checkpoint, --load_best_model_at_end makes its weights the final model (which --do_eval then
// scores), and the flags' preconditions are transformers' own.
#include <catch2/catch.hpp>

#include <filesystem>
#include <regex>

#include "core/file_io.h"
#include "tests/apps/test_train_failures_util.h"

namespace bert {
namespace {

namespace fs = std::filesystem;
using test::CommandResult;

const std::string& root() {
  static const std::string dir = test::scratch_root("bert_test_train_best_model_");
  return dir;
}

std::string squad_mini() { return test::source_path("data/samples/squad-mini.json"); }

std::string model() {
  static const std::string dir = test::make_tiny_model(root() + "/model", 0.0f);
  return dir;
}

// 6 steps of 4 windows (2 epochs of 12), evaluated on the same 12 questions every 2 steps.
std::string train_command(const std::string& out, const std::string& extra) {
  return test::train_squad_bin() + " --device cpu --model_name_or_path " + model() + " --train_file " + squad_mini() +
         " --validation_file " + squad_mini() + " --do_train --do_eval --per_device_train_batch_size 4 --max_steps 6"
         " --learning_rate 3e-3 --logging_steps 1 --max_seq_length 96 --doc_stride 48 --max_train_samples 12"
         " --max_eval_samples 12 --output_dir " + out + " " + extra;
}

// (step, eval_f1) of every evaluation during training, from trainer_log.jsonl.
std::vector<std::pair<int, double>> evaluations(const std::string& out) {
  std::vector<std::pair<int, double>> found;
  const std::regex eval_line(R"(^\{"step": (\d+), .*"eval_f1": ([-0-9.e+]+))");
  for (const std::string& line : read_lines(out + "/trainer_log.jsonl")) {
    std::smatch match;
    if (std::regex_search(line, match, eval_line)) found.emplace_back(std::stoi(match[1]), std::stod(match[2]));
  }
  return found;
}

TEST_CASE("--load_best_model_at_end: the best evaluated checkpoint becomes the final model", "[app][hf]") {
  const std::string out = root() + "/best";
  const CommandResult run = test::run_command(train_command(
      out, "--eval_strategy steps --eval_steps 2 --save_steps 2 --save_total_limit 1 --metric_for_best_model "
           "eval_f1 --load_best_model_at_end"));
  INFO(run.output);
  REQUIRE(run.status == 0);
  // The evaluations of steps 2, 4 and 6 (the last one competes too), each a checkpoint.
  const std::vector<std::pair<int, double>> evals = evaluations(out);
  REQUIRE(evals.size() >= 3);
  CHECK(evals[0].first == 2);
  CHECK(evals[1].first == 4);
  CHECK(evals[2].first == 6);
  // transformers' rule: a later score wins only when strictly greater.
  std::pair<int, double> best = evals[0];
  for (size_t i = 1; i < 3; ++i)
    if (evals[i].second > best.second) best = evals[i];
  INFO("best: step " << best.first << ", f1 " << best.second);
  const std::string state = read_file(out + "/trainer_state.json");
  // run_qa saves the state before its final --do_eval: the log holds that evaluation as well,
  // trainer_state.json's log_history does not.
  const auto count = [](const std::string& text, const std::string& key) {
    size_t n = 0;
    for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + 1)) ++n;
    return n;
  };
  CHECK(count(read_file(out + "/trainer_log.jsonl"), "\"eval_f1\"") == evals.size());
  CHECK(count(state, "\"eval_f1\"") == evals.size() - 1);
  CHECK_THAT(state, Catch::Contains("\"best_global_step\": " + std::to_string(best.first) + ","));
  CHECK_THAT(state, Catch::Contains("\"best_model_checkpoint\": \"" + out + "/checkpoint-" +
                                    std::to_string(best.first) + "\","));
  // --save_total_limit 1 keeps the newest and the best while training, and the best alone at
  // the end (transformers' _finalize_training).
  CHECK(fs::exists(out + "/checkpoint-" + std::to_string(best.first)));
  for (const char* step : {"2", "4", "6"})
    CHECK(fs::exists(out + "/checkpoint-" + step) == (std::to_string(best.first) == step));
  // The final model is the best checkpoint's, and --do_eval scores exactly its score.
  CHECK(read_file(out + "/model.safetensors") ==
        read_file(out + "/checkpoint-" + std::to_string(best.first) + "/model.safetensors"));
  const std::string results = read_file(out + "/eval_results.json");
  const size_t at = results.find("\"eval_f1\": ");
  REQUIRE(at != std::string::npos);
  CHECK(std::stod(results.substr(at + 11)) == best.second);
  if (best.first != 6) CHECK_THAT(run.output, Catch::Contains("loading the best model from"));

  // greater_is_better false keeps the lowest score instead.
  const std::string lowest = root() + "/lowest";
  const CommandResult low = test::run_command(train_command(
      lowest, "--eval_strategy steps --eval_steps 2 --save_steps 2 --metric_for_best_model f1 "
              "--greater_is_better false --load_best_model_at_end"));
  INFO(low.output);
  REQUIRE(low.status == 0);
  std::pair<int, double> worst = evals[0];
  for (size_t i = 1; i < 3; ++i)
    if (evals[i].second < worst.second) worst = evals[i];
  CHECK_THAT(read_file(lowest + "/trainer_state.json"),
             Catch::Contains("\"best_global_step\": " + std::to_string(worst.first) + ","));
  const bool final_is_last = read_file(lowest + "/model.safetensors") == read_file(lowest + "/checkpoint-6/model.safetensors");
  CHECK(final_is_last == (worst.first == 6));
}

TEST_CASE("the best evaluation survives a resume", "[app][hf]") {
  const std::string whole = root() + "/whole", halves = root() + "/halves";
  const std::string flags = "--eval_strategy steps --eval_steps 2 --save_steps 2 --metric_for_best_model exact_match";
  REQUIRE(test::run_command(train_command(whole, flags)).status == 0);
  REQUIRE(test::run_command(train_command(halves, flags + " --stop_after_steps 4")).status == 0);
  const CommandResult resumed = test::run_command(train_command(halves, flags));
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  const std::regex best_fields(R"re("best_(global_step|metric|model_checkpoint)": [^,\n]+)re");
  auto best_of = [&](const std::string& dir) {
    const std::string state = read_file(dir + "/trainer_state.json");
    std::string fields;
    for (std::sregex_iterator it(state.begin(), state.end(), best_fields), end; it != end; ++it)
      fields += std::regex_replace(it->str(), std::regex(dir), "OUT") + "\n";
    return fields;
  };
  INFO(best_of(whole));
  CHECK_THAT(best_of(whole), Catch::Contains("\"best_global_step\": "));
  CHECK(best_of(whole) == best_of(halves));
}

TEST_CASE("--eval_on_start evaluates before the first step, outside the best-model ranking", "[app][hf]") {
  const std::string out = root() + "/on-start";
  const CommandResult run = test::run_command(train_command(
      out, "--eval_on_start --eval_strategy steps --eval_steps 3 --save_steps 3 --metric_for_best_model f1"));
  INFO(run.output);
  REQUIRE(run.status == 0);
  const std::vector<std::pair<int, double>> evals = evaluations(out);
  REQUIRE(evals.size() >= 3);
  CHECK(evals[0].first == 0);
  // Before any step Trainer's state.epoch is still TrainerState's integer 0 (transformers >= 5.3).
  CHECK_THAT(read_lines(out + "/trainer_log.jsonl").at(0),
             Catch::Contains("\"epoch\": 0,") && Catch::Contains("\"eval_f1\""));
  CHECK(evals[1].first == 3);
  CHECK(evals[2].first == 6);
  const int best = evals[2].second > evals[1].second ? 6 : 3;
  CHECK_THAT(read_file(out + "/trainer_state.json"), Catch::Contains("\"best_global_step\": " + std::to_string(best) + ","));
  const CommandResult alone = test::run_command(test::train_squad_bin() + " --device cpu --model_name_or_path " +
                                                model() + " --train_file " + squad_mini() + " --do_train --max_steps 1" +
                                                " --eval_on_start --output_dir " + root() + "/on-start-refused");
  CHECK(alone.status == 2);
  CHECK_THAT(alone.output, Catch::Contains("--eval_on_start") && Catch::Contains("--do_eval"));
}

TEST_CASE("--save_only_model: checkpoints without training state, except the one a stop resumes from", "[app][hf]") {
  const std::string out = root() + "/model-only";
  const CommandResult run = test::run_command(train_command(
      out, "--save_only_model --eval_strategy steps --eval_steps 2 --save_steps 2 --metric_for_best_model f1 "
           "--load_best_model_at_end"));
  INFO(run.output);
  REQUIRE(run.status == 0);
  for (const char* step : {"2", "4", "6"}) {
    const std::string dir = out + "/checkpoint-" + step;
    CHECK(fs::exists(dir + "/model.safetensors"));
    CHECK(fs::exists(dir + "/checksums.json"));
    CHECK_FALSE(fs::exists(dir + "/training_state.json"));
    CHECK_FALSE(fs::exists(dir + "/training_state.safetensors"));
    // Hugging Face's trainer_state.json all the same, as Trainer saves it with --save_only_model.
    CHECK_THAT(read_file(dir + "/trainer_state.json"),
               Catch::Contains(std::string("\"global_step\": ") + step) &&
                   Catch::Contains("\"log_history\": ["));
  }
  // The best is loaded from its model files.
  const std::string state = read_file(out + "/trainer_state.json");
  const std::smatch best = [&] {
    std::smatch m;
    std::regex_search(state, m, std::regex(R"re("best_global_step": (\d+))re"));
    return m;
  }();
  REQUIRE(best.size() == 2);
  CHECK(read_file(out + "/model.safetensors") == read_file(out + "/checkpoint-" + best[1].str() + "/model.safetensors"));
  // Such a checkpoint is never resumed: named, with what to do instead.
  const CommandResult resume = test::run_command(
      train_command(root() + "/model-only-resume", "--resume_from_checkpoint " + out + "/checkpoint-4"));
  CHECK(resume.status != 0);
  CHECK_THAT(resume.output, Catch::Contains("--save_only_model") && Catch::Contains("cannot be resumed"));

  // Stopped at step 3 (checkpoint-2 holds the model alone): the stop saves everything, and the
  // resumed run ends with the uninterrupted run's model.
  const std::string whole = root() + "/model-only-whole", halves = root() + "/model-only-halves";
  REQUIRE(test::run_command(train_command(whole, "--save_only_model --save_steps 2")).status == 0);
  REQUIRE(test::run_command(train_command(halves, "--save_only_model --save_steps 2 --stop_after_steps 3")).status == 0);
  CHECK_FALSE(fs::exists(halves + "/checkpoint-2/training_state.json"));
  CHECK(fs::exists(halves + "/checkpoint-3/training_state.json"));
  const CommandResult resumed = test::run_command(train_command(halves, "--save_only_model --save_steps 2"));
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  CHECK_THAT(resumed.output, Catch::Contains("resuming from the newest"));
  CHECK(read_file(whole + "/model.safetensors") == read_file(halves + "/model.safetensors"));
}

TEST_CASE("--save_strategy best saves at each new best; without checkpoints the best step is not recorded",
          "[app][hf]") {
  const std::string out = root() + "/save-best";
  const CommandResult run = test::run_command(train_command(
      out, "--eval_strategy steps --eval_steps 2 --save_strategy best --metric_for_best_model f1 "
           "--load_best_model_at_end"));
  INFO(run.output);
  REQUIRE(run.status == 0);
  const std::vector<std::pair<int, double>> evals = evaluations(out);
  REQUIRE(evals.size() >= 3);
  double best = -1;
  int best_step = 0;
  for (size_t i = 0; i < 3; ++i) {
    const bool new_best = evals[i].second > best;
    if (new_best) {
      best = evals[i].second;
      best_step = evals[i].first;
    }
    INFO("step " << evals[i].first << ", f1 " << evals[i].second);
    CHECK(fs::exists(out + "/checkpoint-" + std::to_string(evals[i].first)) == new_best);
  }
  CHECK_THAT(read_file(out + "/trainer_state.json"), Catch::Contains("\"best_global_step\": " + std::to_string(best_step) + ","));
  CHECK(read_file(out + "/model.safetensors") == read_file(out + "/checkpoint-" + std::to_string(best_step) + "/model.safetensors"));

  // --save_strategy no: the best score is kept, no step (no checkpoint holds it).
  const std::string unsaved = root() + "/save-none";
  REQUIRE(test::run_command(train_command(unsaved, "--eval_strategy steps --eval_steps 2 --save_strategy no "
                                                   "--metric_for_best_model f1")).status == 0);
  const std::string state = read_file(unsaved + "/trainer_state.json");
  CHECK_THAT(state, Catch::Contains("\"best_global_step\": null,") && Catch::Contains("\"best_model_checkpoint\": null,"));
  CHECK_THAT(state, !Catch::Contains("\"best_metric\": null,"));
}

TEST_CASE("best-model flags are refused where transformers refuses them", "[app][hf]") {
  auto refused = [&](const std::string& extra, const std::vector<std::string>& mentions) {
    const CommandResult result = test::run_command(train_command(root() + "/refused", extra));
    INFO(extra << "\n" << result.output);
    CHECK(result.status == 2);
    const std::vector<std::string> errors = test::error_lines(result.output);
    REQUIRE(errors.size() == 1);
    for (const std::string& text : mentions) CHECK_THAT(errors[0], Catch::Contains(text));
  };
  refused("--eval_strategy steps --load_best_model_at_end", {"--metric_for_best_model f1"});
  refused("--metric_for_best_model eval_loss", {"no loss", "f1"});
  refused("--metric_for_best_model accuracy", {"exact_match, f1", "'accuracy'"});
  refused("--eval_strategy steps --save_strategy epoch --metric_for_best_model f1 --load_best_model_at_end",
          {"strategy to match"});
  refused("--eval_strategy steps --eval_steps 2 --save_steps 3 --metric_for_best_model f1 --load_best_model_at_end",
          {"--save_steps 3", "--eval_steps 2"});
  refused("--metric_for_best_model f1 --load_best_model_at_end", {"strategy to match"});
  refused("--eval_strategy steps --save_strategy best", {"--save_strategy best", "--metric_for_best_model"});
  refused("--save_strategy sometimes", {"no, steps, epoch or best"});
}

}  // namespace
}  // namespace bert
