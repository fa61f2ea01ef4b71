// A model directory whose vocabulary is a SentencePiece model (spiece.model instead of
// vocab.txt) trains, saves and evaluates end to end: train_squad and eval_squad through the
// real binaries, with a unigram model trained here on the SQuAD sample's questions and contexts.
#include <catch2/catch.hpp>
#include <sentencepiece_trainer.h>

#include <regex>
#include <unordered_map>

#include "data/squad.h"
#include "core/file_io.h"
#include "tests/apps/test_train_failures_util.h"

namespace bert {
namespace {

namespace fs = std::filesystem;

// <dir>/spiece.model with [CLS], [SEP] and [PAD] pieces; returns its number of pieces.
void train_sentencepiece(const std::string& dir, const std::string& squad_file) {
  std::string corpus;
  for (const SquadExample& example : read_squad(squad_file).examples)
    corpus += example.question + "\n" + example.context + "\n";
  const std::string input = join_path(dir, "corpus.txt");
  write_file_atomic(input, corpus);
  const std::unordered_map<std::string, std::string> args = {
      {"input", input},          {"model_prefix", join_path(dir, "spiece")},
      {"vocab_size", "300"},     {"model_type", "unigram"},
      {"character_coverage", "1.0"}, {"hard_vocab_limit", "false"},
      {"pad_id", "3"},           {"pad_piece", "[PAD]"},
      {"user_defined_symbols", "[CLS],[SEP]"}, {"minloglevel", "2"}};
  const auto status = sentencepiece::SentencePieceTrainer::Train(args);
  INFO(status.ToString());
  REQUIRE(status.ok());
  fs::remove(input);
  fs::remove(join_path(dir, "spiece.vocab"));
}

TEST_CASE("a SentencePiece model directory trains, saves and evaluates", "[app][sentencepiece]") {
  const std::string root = test::scratch_root("bert_test_train_spm_");
  const std::string model = root + "/model", out = root + "/out", squad = test::source_path("data/samples/squad-mini.json");
  make_directories(model);
  train_sentencepiece(model, squad);
  write_file_atomic(model + "/config.json", test::tiny_config_json(16, 32, 0.1f, 300));

  const test::CommandResult trained = test::run_command(
      test::train_squad_bin() + " --device cpu --model_name_or_path " + model + " --train_file " + squad +
      " --validation_file " + squad + " --do_train --do_eval --per_device_train_batch_size 4 --max_steps 6"
      " --learning_rate 1e-3 --logging_steps 1 --save_steps 3 --max_seq_length 128 --doc_stride 32"
      " --output_dir " + out);
  INFO(trained.output);
  REQUIRE(trained.status == 0);
  CHECK(read_lines(out + "/trainer_log.jsonl").size() == 8);  // 6 steps, the run's summary, the evaluation
  CHECK(read_file(out + "/spiece.model") == read_file(model + "/spiece.model"));
  CHECK(read_file(out + "/checkpoint-3/spiece.model") == read_file(model + "/spiece.model"));
  CHECK_FALSE(fs::exists(out + "/vocab.txt"));

  // The saved directory is a model directory again: eval_squad loads it and scores the same.
  const test::CommandResult evaluated =
      test::run_command(std::string(EVAL_SQUAD_BIN) + " --device cpu --model_name_or_path " + out +
                        " --validation_file " + squad + " --max_seq_length 128 --doc_stride 32 --output_dir " +
                        root + "/eval");
  INFO(evaluated.output);
  REQUIRE(evaluated.status == 0);
  const std::regex f1("\"eval_f1\": ([0-9.eE+-]+)");
  std::smatch a, b;
  const std::string train_results = read_file(out + "/eval_results.json"), eval_results = read_file(root + "/eval/eval_results.json");
  REQUIRE(std::regex_search(train_results, a, f1));
  REQUIRE(std::regex_search(eval_results, b, f1));
  CHECK(std::stod(a[1]) == Approx(std::stod(b[1])).margin(1e-9));

  // More pieces than word embeddings: refused before training, naming the model file.
  write_file_atomic(model + "/config.json", test::tiny_config_json(16, 32, 0.1f, 100));
  const test::CommandResult refused = test::run_command(
      test::train_squad_bin() + " --device cpu --model_name_or_path " + model + " --train_file " + squad +
      " --do_train --max_steps 1 --max_seq_length 128 --output_dir " + root + "/refused");
  INFO(refused.output);
  CHECK(refused.status == 1);
  CHECK_THAT(refused.output, Catch::Contains(model + "/spiece.model") && Catch::Contains("vocab_size 100"));
  fs::remove_all(root);
}

}  // namespace
}  // namespace bert
