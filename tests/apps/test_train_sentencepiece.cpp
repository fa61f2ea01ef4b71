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

// <dir>/spiece.model in ALBERT's layout (<pad> 0, <unk> 1, [CLS] 2, [SEP] 3, [MASK] 4) and the
// tokenizer_config.json that has it tokenized as AlbertTokenizer keeping accents.
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
      {"pad_id", "0"},           {"unk_id", "1"},
      {"bos_id", "-1"},          {"eos_id", "-1"},
      {"user_defined_symbols", "[CLS],[SEP],[MASK]"}, {"minloglevel", "2"}};
  const auto status = sentencepiece::SentencePieceTrainer::Train(args);
  INFO(status.ToString());
  REQUIRE(status.ok());
  fs::remove(input);
  fs::remove(join_path(dir, "spiece.vocab"));
  write_file_atomic(
      join_path(dir, "tokenizer_config.json"),
      R"({"tokenizer_class": "AlbertTokenizer", "do_lower_case": true})");  // keep_accents false
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
  CHECK_THAT(trained.output, Catch::Contains("keep_accents false (NFKD, marks removed)"));
  CHECK(read_lines(out + "/trainer_log.jsonl").size() == 8);  // 6 steps, the run's summary, the evaluation
  CHECK(read_file(out + "/spiece.model") == read_file(model + "/spiece.model"));
  CHECK(read_file(out + "/checkpoint-3/spiece.model") == read_file(model + "/spiece.model"));
  CHECK_FALSE(fs::exists(out + "/vocab.txt"));
  // The saved tokenizer_config.json names the class the text was tokenized as.
  const std::string saved_config = read_file(out + "/tokenizer_config.json");
  CHECK_THAT(saved_config, Catch::Contains(R"("tokenizer_class": "AlbertTokenizer")") &&
                               Catch::Contains(R"("keep_accents": false)") &&
                               Catch::Contains(R"("do_lower_case": true)"));

  // prepare_squad reads the SentencePiece model too, and builds the windows train_squad trained on.
  const test::CommandResult prepared = test::run_command(
      std::string(PREPARE_SQUAD_BIN) + " --vocab_file " + model + "/spiece.model --input_file " + squad +
      " --max_seq_length 128 --doc_stride 32 --output_file " + root + "/windows.jsonl");
  INFO(prepared.output);
  CHECK(prepared.status == 0);
  CHECK(read_lines(root + "/windows.jsonl").size() > 204);

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
