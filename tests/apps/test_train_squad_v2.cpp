// SQuAD v2.0 through train_squad and eval_squad (--version_2_with_negative), as run_qa.py runs
// it: unanswerable questions trained toward [CLS], the null answer in span selection
// (eval_null_odds.json), squad_v2's scores under run_qa's keys, and a best model chosen by one
// of them. The rules themselves are unit-tested (test_postprocess, test_metric_v2).
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <set>
#include <vector>
#include <string>

#include "core/file_io.h"
#include "tests/apps/test_train_failures_util.h"

namespace bert {
namespace {

using test::CommandResult;

const std::string& root() {
  static const std::string dir = test::scratch_root("bert_test_train_squad_v2_");
  return dir;
}

// squad-mini's 204 questions with every third one unanswerable (answers moved to
// plausible_answers), version "v2.0".
std::string squad_v2_mini() { return test::source_path("data/samples/squad-v2-mini.json"); }

std::string model() {
  static const std::string dir = test::make_tiny_model(root() + "/model", 0.0f);
  return dir;
}

std::string train_command(const std::string& out, const std::string& train_file, const std::string& extra) {
  return test::train_squad_bin() + " --device cpu --model_name_or_path " + model() + " --train_file " + train_file +
         " --validation_file " + train_file + " --do_train --do_eval --per_device_train_batch_size 4 --max_steps 3"
         " --logging_steps 1 --save_steps 0 --max_seq_length 96 --doc_stride 48 --max_train_samples 12 --output_dir " +
         out + " " + extra;
}

// The last line of the output that starts with '{' (the scores the app prints on stdout).
std::string scores_line(const std::string& output) {
  std::string last;
  size_t begin = 0;
  while (begin < output.size()) {
    size_t end = output.find('\n', begin);
    if (end == std::string::npos) end = output.size();
    if (output[begin] == '{') last = output.substr(begin, end - begin);
    begin = end + 1;
  }
  return last;
}

// The answer texts of a predictions file, in its order.
std::vector<std::string> predicted_texts(const std::string& path) {
  simdjson::dom::parser parser;
  std::vector<std::string> texts;
  for (const auto field : parser.load(path).get_object()) texts.emplace_back(field.value.get_string().value());
  return texts;
}

}  // namespace

TEST_CASE("--version_2_with_negative trains, selects and scores SQuAD v2.0 as run_qa.py does", "[app][hf][v2]") {
  const std::string out = root() + "/v2";
  const CommandResult result = test::run_command(train_command(
      out, squad_v2_mini(),
      "--version_2_with_negative --eval_strategy steps --eval_steps 3 --metric_for_best_model eval_best_f1"));
  INFO(result.output);
  REQUIRE(result.status == 0);
  const std::string printed = scores_line(result.output);
  CHECK_THAT(printed, Catch::StartsWith("{\"exact\": ") && Catch::Contains("\"total\": 204, ") &&
                          Catch::Contains("\"HasAns_total\": 136, ") && Catch::Contains("\"NoAns_total\": 68, ") &&
                          Catch::EndsWith("\"best_f1_thresh\": 0.0}"));

  simdjson::dom::parser parser;
  // eval_results.json: squad_v2's scores under run_qa's keys, totals as integers.
  const simdjson::dom::object results = parser.load(out + "/eval_results.json").get_object();
  std::set<std::string> keys;
  for (const auto field : results) keys.insert(std::string(field.key));
  for (const char* key : {"eval_exact", "eval_f1", "eval_total", "eval_HasAns_exact", "eval_HasAns_f1",
                          "eval_HasAns_total", "eval_NoAns_exact", "eval_NoAns_f1", "eval_NoAns_total",
                          "eval_best_exact", "eval_best_exact_thresh", "eval_best_f1", "eval_best_f1_thresh"})
    CHECK(keys.count(key) == 1);
  CHECK(keys.count("eval_exact_match") == 0);
  CHECK(int64_t(results["eval_total"]) == 204);
  CHECK(results["eval_total"].is_int64());

  // Each question has its null odds; the prediction is "" exactly where they exceed the
  // threshold (0).
  const simdjson::dom::object predictions = parser.load(out + "/eval_predictions.json").get_object();
  simdjson::dom::parser odds_parser;
  const simdjson::dom::object odds = odds_parser.load(out + "/eval_null_odds.json").get_object();
  size_t questions = 0, no_answer = 0;
  for (const auto field : predictions) {
    ++questions;
    const std::string_view text = field.value.get_string();
    const double difference = odds[field.key].get_double();
    CHECK(text.empty() == (difference > 0.0));
    no_answer += text.empty();
  }
  CHECK(questions == 204);
  INFO(no_answer << " no-answer predictions");

  // The evaluation during training logs the same keys, and ranks by best_f1.
  const std::string log = read_file(out + "/trainer_log.jsonl");
  CHECK_THAT(log, Catch::Contains("\"eval_HasAns_f1\": ") && Catch::Contains("\"eval_NoAns_total\": 68,"));
  CHECK_THAT(read_file(out + "/trainer_state.json"), !Catch::Contains("\"best_metric\": null"));

  // eval_squad's metric mode scores the same predictions file to the same line.
  const CommandResult metric = test::run_command(std::string(EVAL_SQUAD_BIN) + " --validation_file " + squad_v2_mini() +
                                                 " --predictions_file " + out + "/eval_predictions.json" +
                                                 " --version_2_with_negative");
  INFO(metric.output);
  REQUIRE(metric.status == 0);
  CHECK(scores_line(metric.output) == printed);
  // With the null odds as the official script's --na-prob-file, best_f1_thresh is one of them:
  // the --null_score_diff_threshold that would have scored best (or 0.0, none doing better).
  const std::string null_odds = out + "/eval_null_odds.json";
  const CommandResult tuned = test::run_command(std::string(EVAL_SQUAD_BIN) + " --validation_file " + squad_v2_mini() +
                                                " --predictions_file " + out + "/eval_predictions.json" +
                                                " --version_2_with_negative --na_prob_file " + null_odds);
  INFO(tuned.output);
  REQUIRE(tuned.status == 0);
  simdjson::dom::parser tuned_parser;
  const simdjson::dom::object tuned_scores = tuned_parser.parse(scores_line(tuned.output)).get_object();
  const double best_threshold = tuned_scores["best_f1_thresh"].get_double();
  bool among_odds = best_threshold == 0.0;
  for (const auto field : odds) among_odds = among_odds || field.value.get_double().value() == best_threshold;
  CHECK(among_odds);
  CHECK(double(tuned_scores["best_f1"]) >= double(tuned_scores["f1"]));

  // The threshold decides: far below every difference, no question is answered; far above,
  // every one is.
  auto model_mode = [&](const std::string& threshold, const std::string& dir) {
    const CommandResult run = test::run_command(std::string(EVAL_SQUAD_BIN) + " --device cpu --model_name_or_path " +
                                                out + " --validation_file " + squad_v2_mini() +
                                                " --max_seq_length 96 --doc_stride 48 --version_2_with_negative"
                                                " --null_score_diff_threshold " + threshold + " --output_dir " + dir);
    INFO(run.output);
    REQUIRE(run.status == 0);
    return scores_line(run.output);
  };
  const std::string none = model_mode("-1e9", root() + "/none");
  CHECK_THAT(none, Catch::Contains("\"HasAns_exact\": 0.0, ") && Catch::Contains("\"NoAns_exact\": 100.0, "));
  const std::vector<std::string> unanswered = predicted_texts(root() + "/none/eval_predictions.json");
  CHECK(unanswered.size() == 204);
  for (const std::string& text : unanswered) CHECK(text.empty());
  model_mode("1e9", root() + "/all");
  const std::vector<std::string> answered = predicted_texts(root() + "/all/eval_predictions.json");
  CHECK(answered.size() == 204);
  for (const std::string& text : answered) CHECK_FALSE(text.empty());
  CHECK(path_exists(root() + "/all/eval_null_odds.json"));
}

TEST_CASE("SQuAD v2.0 flags and data: what is refused and what v1.1 data gives", "[app][hf][v2]") {
  // v1.1 data under the v2.0 metric (run_qa takes it): no unanswerable group.
  const std::string v1 = root() + "/v1";
  const CommandResult plain = test::run_command(
      train_command(v1, test::source_path("data/samples/squad-mini.json"), "--version_2_with_negative"));
  INFO(plain.output);
  REQUIRE(plain.status == 0);
  const std::string results = read_file(v1 + "/eval_results.json");
  CHECK_THAT(results, Catch::Contains("\"eval_HasAns_total\": 204") && !Catch::Contains("NoAns"));

  // A v1.1 score name under v2.0, and the other way round.
  auto refused = [&](const std::string& file, const std::string& extra, int status,
                     const std::vector<std::string>& mentions) {
    const CommandResult result = test::run_command(train_command(root() + "/refused", file, extra));
    INFO(extra << "\n" << result.output);
    CHECK(result.status == status);
    const std::vector<std::string> errors = test::error_lines(result.output);
    REQUIRE(errors.size() == 1);
    for (const std::string& text : mentions) CHECK_THAT(errors[0], Catch::Contains(text));
  };
  refused(squad_v2_mini(), "--version_2_with_negative --metric_for_best_model exact_match", 2,
          {"exact, f1, HasAns_exact", "'exact_match'"});
  refused(squad_v2_mini(), "--metric_for_best_model HasAns_f1", 2,
          {"exact_match, f1", "--version_2_with_negative"});
  refused(squad_v2_mini(), "", 1, {"squad-v2-mini.json", "--version_2_with_negative", "68 unanswerable"});
  // A group the evaluation set lacks gives no score to rank by: refused before training.
  const std::string v1_file = test::source_path("data/samples/squad-mini.json");
  refused(v1_file, "--version_2_with_negative --eval_strategy steps --eval_steps 2 --metric_for_best_model NoAns_f1", 2,
          {"--metric_for_best_model NoAns_f1", "squad-mini.json", "no unanswerable questions"});
  CHECK_FALSE(path_exists(root() + "/refused/trainer_log.jsonl"));
  // An unanswerable question that lists answers contradicts itself.
  const std::string contradictory = root() + "/contradictory.json";
  write_file_atomic(contradictory, R"({"version": "v2.0", "data": [{"title": "T", "paragraphs": [{"context": "The Normans were in France.",
    "qas": [{"id": "a", "question": "Who?", "answers": [{"text": "Normans", "answer_start": 4}], "is_impossible": true}]}]}]})");
  refused(contradictory, "--version_2_with_negative", 1, {"contradictory.json", "question a", "plausible_answers"});
  // --na_prob_file belongs to v2.0's metric mode.
  for (const std::string& args : {std::string(" --predictions_file p.json --na_prob_file n.json"),
                                  std::string(" --predictions_file p.json --version_2_with_negative --na_prob_thresh 0.5"),
                                  " --model_name_or_path " + model() + " --output_dir " + root() +
                                      "/na --version_2_with_negative --na_prob_file n.json"}) {
    const CommandResult result = test::run_command(std::string(EVAL_SQUAD_BIN) + " --validation_file " +
                                                   squad_v2_mini() + args);
    INFO(args << "\n" << result.output);
    CHECK(result.status == 2);
    CHECK_THAT(result.output, Catch::Contains("--na_prob"));
  }
  // eval_squad's v1.1 metric on v2.0 data says which flag scores it.
  const CommandResult metric = test::run_command(std::string(EVAL_SQUAD_BIN) + " --validation_file " + squad_v2_mini() +
                                                 " --predictions_file " + root() + "/v2/eval_predictions.json");
  INFO(metric.output);
  CHECK(metric.status == 1);
  CHECK_THAT(metric.output, Catch::Contains("--version_2_with_negative"));
}

}  // namespace bert
