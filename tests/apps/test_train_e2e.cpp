// End to end on the CPU: a tiny randomly initialised BERT trained by train_squad on the windows
// of two dev articles (data/samples/squad-mini.json) must fit them: the logged loss falls
// clearly, and eval_squad, scoring the saved directory, finds EM/F1 far above those of the
// untrained model (the same directory before training).
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "logging/tensorboard_reader.h"

namespace bert {
namespace {

struct CommandResult {
  int status = -1;
  std::string output;
};

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (size_t got = fread(buffer, 1, sizeof buffer, pipe)) result.output.append(buffer, got);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

double json_number(const std::string& text, const std::string& key) {
  const std::regex pattern("\"" + key + "\": ([-0-9.eE+]+)");
  std::smatch match;
  REQUIRE(std::regex_search(text, match, pattern));
  return std::stod(match[1]);
}

std::vector<double> logged_losses(const std::string& output) {
  std::vector<double> losses;
  const std::regex pattern(R"(\| loss ([-0-9.eE+]+) \|)");
  for (auto it = std::sregex_iterator(output.begin(), output.end(), pattern); it != std::sregex_iterator(); ++it)
    losses.push_back(std::stod((*it)[1]));
  return losses;
}

std::string make_tiny_model_dir(const std::string& root) {
  const std::string dir = root + "/tiny-model";
  make_directories(dir);
  write_file_atomic(dir + "/config.json", R"({
  "model_type": "bert", "vocab_size": 30522, "hidden_size": 64, "num_hidden_layers": 2,
  "num_attention_heads": 2, "intermediate_size": 128, "max_position_embeddings": 512,
  "type_vocab_size": 2, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
  "attention_probs_dropout_prob": 0.0, "layer_norm_eps": 1e-12, "initializer_range": 0.02
})");
  write_file_atomic(dir + "/vocab.txt", read_file(std::string(BERT_SOURCE_DIR) + "/data/samples/tiny-bert-uncased/vocab.txt"));
  return dir;
}

TEST_CASE("train_squad fits a few articles and eval_squad scores the saved model", "[e2e]") {
  const std::string root = (std::filesystem::temp_directory_path() / ("bert_e2e_test_" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(root);
  const std::string model = make_tiny_model_dir(root);
  const std::string data = std::string(BERT_SOURCE_DIR) + "/data/samples/squad-mini.json";
  const std::string out = root + "/trained";

  const CommandResult untrained = run_command(std::string(EVAL_SQUAD_BIN) + " --device cpu --model_name_or_path " +
                                              model + " --validation_file " + data + " --output_dir " + root + "/untrained");
  INFO(untrained.output);
  REQUIRE(untrained.status == 0);
  CHECK(untrained.output.find("warning: " + model + " has no weights") != std::string::npos);
  CHECK(untrained.output.find("these scores are an untrained model's") != std::string::npos);
  const double untrained_f1 = json_number(untrained.output, "f1");
  // A window longer than the position table: refused naming the file that bounds it.
  const CommandResult too_long =
      run_command(std::string(EVAL_SQUAD_BIN) + " --device cpu --model_name_or_path " + model +
                  " --validation_file " + data + " --max_seq_length 600" + " --output_dir " + root +
                  "/too-long");
  CHECK(too_long.status == 2);
  CHECK_THAT(too_long.output,
             Catch::Contains("--max_seq_length 600 exceeds the model's max_position_embeddings ") &&
                 Catch::Contains(model + "/config.json)"));

  const CommandResult trained = run_command(
      std::string(TRAIN_SQUAD_BIN) + " --device cpu --model_name_or_path " + model +
      " --train_file " + data + " --do_train --output_dir " + out +
      " --per_device_train_batch_size 16 --learning_rate 2e-3 --max_steps 120 --warmup_steps 10"
      " --logging_steps 10 --save_steps 60 --seed 7 --report_to tensorboard");
  INFO(trained.output);
  REQUIRE(trained.status == 0);
  const std::vector<double> losses = logged_losses(trained.output);
  REQUIRE(losses.size() == 12);
  CHECK(losses.back() < 0.4 * losses.front());
  CHECK(path_exists(out + "/checkpoint-60/model.safetensors"));
  CHECK(path_exists(out + "/model.safetensors"));
  // The same 12 logging points as JSON Lines (+ the run's summary line) and as TensorBoard
  // scalars, in this run's own runs/<date>_<host> directory.
  CHECK(read_lines(out + "/trainer_log.jsonl").size() == 13);
  size_t loss_events = 0, run_dirs = 0;
  for (const auto& run : std::filesystem::directory_iterator(out + "/runs")) {
    ++run_dirs;
    CHECK(std::regex_match(run.path().filename().string(), std::regex(R"([A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}_.+)")));
    for (const auto& entry : std::filesystem::directory_iterator(run.path()))
      for (const ScalarEvent& event : read_tensorboard_scalars(entry.path().string()))
        loss_events += event.tag == "train/loss";
  }
  CHECK(run_dirs == 1);
  CHECK(loss_events == 12);
  // Hugging Face's files: the mean loss of the run, the whole log history, the arguments.
  const std::string train_results = read_file(out + "/train_results.json");
  CHECK(json_number(train_results, "train_loss") < losses.front());
  CHECK(json_number(train_results, "train_loss") > losses.back());
  CHECK(json_number(train_results, "train_samples") > 0);
  CHECK(json_number(read_file(out + "/trainer_state.json"), "global_step") == 120);
  CHECK(read_file(out + "/trainer_state.json").find("\"log_history\": [") != std::string::npos);
  CHECK(read_file(out + "/all_results.json").find("\"train_runtime\"") != std::string::npos);
  CHECK(read_file(out + "/training_args.json").find("\"learning_rate\": 0.002,") != std::string::npos);

  const CommandResult scored = run_command(std::string(EVAL_SQUAD_BIN) + " --device cpu --model_name_or_path " + out +
                                           " --validation_file " + data + " --output_dir " + out + "/eval");
  INFO(scored.output);
  REQUIRE(scored.status == 0);
  const double em = json_number(scored.output, "exact_match"), f1 = json_number(scored.output, "f1");
  INFO("untrained F1 " << untrained_f1 << ", trained EM " << em << " F1 " << f1);
  CHECK(untrained_f1 < 15);
  CHECK(f1 > untrained_f1 + 40);
  CHECK(path_exists(out + "/eval/eval_predictions.json"));
  CHECK(path_exists(out + "/eval/eval_nbest_predictions.json"));
  CHECK(json_number(read_file(out + "/eval/eval_results.json"), "eval_f1") == f1);
  // No training here: TrainerState's integer epoch 0, and the model's preparation timed.
  CHECK_THAT(
      read_file(out + "/eval/eval_results.json"),
      Catch::Contains("\"epoch\": 0,") && Catch::Contains("\"eval_model_preparation_time\": "));
  CHECK_THAT(scored.output, Catch::Contains("***** eval metrics *****"));
  // Into the training's own output_dir (the command a training prints when a signal skipped
  // its final evaluation): logged at the training's epoch, as that evaluation would have been,
  // so all_results.json keeps the training's epoch beside train_loss.
  const double trained_epoch = json_number(read_file(out + "/trainer_state.json"), "epoch");
  REQUIRE(trained_epoch > 0);
  // (the same directory spelt otherwise: told by identity, not by the text)
  const CommandResult standing_in =
      run_command(std::string(EVAL_SQUAD_BIN) + " --device cpu --model_name_or_path " + out +
                  " --validation_file " + data + " --output_dir " + out + "/.");
  INFO(standing_in.output);
  REQUIRE(standing_in.status == 0);
  CHECK(json_number(read_file(out + "/eval_results.json"), "epoch") == trained_epoch);
  CHECK(read_file(out + "/eval_results.json").find("model_preparation_time") == std::string::npos);
  CHECK(json_number(read_file(out + "/all_results.json"), "epoch") == trained_epoch);
  CHECK(read_file(out + "/all_results.json").find("\"train_loss\"") != std::string::npos);
  // Another directory holding a trainer_state.json is not the model's own: a run without
  // training there.
  std::filesystem::create_directories(out + "/elsewhere");
  std::filesystem::copy_file(out + "/trainer_state.json", out + "/elsewhere/trainer_state.json");
  const CommandResult elsewhere =
      run_command(std::string(EVAL_SQUAD_BIN) + " --device cpu --model_name_or_path " + out +
                  " --validation_file " + data + " --output_dir " + out + "/elsewhere");
  INFO(elsewhere.output);
  REQUIRE(elsewhere.status == 0);
  CHECK(read_file(out + "/elsewhere/eval_results.json").find("\"epoch\": 0,") != std::string::npos);
  // The log splits the model's time (its forward passes) from the whole evaluation's.
  std::smatch timing;
  REQUIRE(std::regex_search(scored.output, timing,
                            std::regex(R"(windows in ([0-9.]+) s \(.*the model's forward passes ([0-9.]+) s)")));
  CHECK(std::stod(timing[2]) <= std::stod(timing[1]) + 0.05);  // both printed rounded
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace bert
