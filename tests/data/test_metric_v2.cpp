// The SQuAD v2.0 metric (run_qa's squad_v2) on hand cases. The expected numbers are what the
// official v2.0 functions (as transformers 4.46.3's squad_metrics.squad_evaluate carries them,
// every no-answer probability 0) return for the same questions and predictions; each is also
// worked out in the comments. (Over 1,169 questions of dev articles 0-2, 40% made unanswerable,
// with random logits, span selection and these scores were also compared with Hugging Face's
// utils_qa.py and that code: the same predictions, null odds and scores; docs/squad_v2.md.)
#include <catch2/catch.hpp>

#include <string>

#include "core/error.h"
#include "data/predictions_io.h"
#include "data/squad_metric_v2.h"

namespace bert {
namespace {

SquadDataset make_dataset(const std::vector<std::pair<std::string, std::vector<std::string>>>& questions) {
  SquadDataset dataset;
  dataset.path = "v2.json";
  for (const auto& [id, answers] : questions) {
    SquadExample example;
    example.id = id;
    example.context = "context";
    example.is_impossible = answers.empty();
    for (const std::string& text : answers) example.answers.push_back({text, 0});
    dataset.examples.push_back(example);
  }
  return dataset;
}

double score(const SquadScores& scores, const std::string& name) {
  const NamedScore* found = scores.find(name);
  REQUIRE(found != nullptr);
  return found->value;
}

}  // namespace

TEST_CASE("SQuAD v2.0 scores: an empty prediction answers an unanswerable question", "[metric][v2]") {
  // q1 right (1, 1); q2 unanswerable, "" (1, 1); q3 unanswerable, "France" (0, 0); q4 "France"
  // for "in France" (0, F1 2·1·½/1½ = ⅔); q5's only answer "the" normalizes to nothing, so its
  // gold is [""] and "" is right (1, 1) although it counts as answerable.
  const SquadDataset dataset = make_dataset({{"q1", {"Normans", "the Normans"}},
                                             {"q2", {}},
                                             {"q3", {}},
                                             {"q4", {"in France"}},
                                             {"q5", {"the"}}});
  const PredictionMap predictions = {{"q1", "normans"}, {"q2", ""}, {"q3", "France"}, {"q4", "France"}, {"q5", ""}};
  const SquadScores scores = evaluate_squad_v2(dataset, predictions);
  std::vector<std::string> names;
  for (const NamedScore& s : scores.named) names.push_back(s.name);
  CHECK(names == std::vector<std::string>{"exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total",
                                          "NoAns_exact", "NoAns_f1", "NoAns_total", "best_exact",
                                          "best_exact_thresh", "best_f1", "best_f1_thresh"});
  // The exact doubles squad_evaluate returns (its sums and divisions in its order).
  CHECK(score(scores, "exact") == 60.0);
  CHECK(score(scores, "f1") == 73.33333333333333);
  CHECK(score(scores, "total") == 5);
  CHECK(score(scores, "HasAns_exact") == 66.66666666666667);
  CHECK(score(scores, "HasAns_f1") == 88.88888888888887);
  CHECK(score(scores, "HasAns_total") == 3);
  CHECK(score(scores, "NoAns_exact") == 50.0);
  CHECK(score(scores, "NoAns_f1") == 50.0);
  CHECK(score(scores, "NoAns_total") == 2);
  // From 2 (the unanswerable questions): +1 (q1), 0 (q2), -1 (q3), +0 / +⅔ (q4), +1 (q5).
  CHECK(score(scores, "best_exact") == 60.0);
  CHECK(score(scores, "best_f1") == 73.33333333333333);
  CHECK(score(scores, "best_exact_thresh") == 0.0);
  CHECK(scores.exact_match == 60.0);
  CHECK(scores.f1 == 73.33333333333333);
  CHECK(scores_to_json(scores) ==
        "{\"exact\": 60.0, \"f1\": 73.33333333333333, \"total\": 5, \"HasAns_exact\": 66.66666666666667, "
        "\"HasAns_f1\": 88.88888888888887, \"HasAns_total\": 3, \"NoAns_exact\": 50.0, \"NoAns_f1\": 50.0, "
        "\"NoAns_total\": 2, \"best_exact\": 60.0, \"best_exact_thresh\": 0.0, \"best_f1\": 73.33333333333333, "
        "\"best_f1_thresh\": 0.0}");
  CHECK(scores_summary(scores) ==
        "exact 60.00, f1 73.33, HasAns_exact 66.67, HasAns_f1 88.89, NoAns_exact 50.00, NoAns_f1 50.00, "
        "best_exact 60.00, best_f1 73.33");
}

TEST_CASE("SQuAD v2.0 best_exact / best_f1 keep the best prefix of the questions in order", "[metric][v2]") {
  // From 3: a "" (0) -> 3; b answerable, "x" for "x y" (exact +0, F1 +⅔) -> 3 / 3⅔; c and d
  // unanswerable but answered (-1 each). The best prefix ends at b: 3/4 and 3⅔/4, above the
  // plain exact (1/4) and f1 ((1 + ⅔)/4).
  const SquadDataset dataset = make_dataset({{"a", {}}, {"b", {"x y"}}, {"c", {}}, {"d", {}}});
  const SquadScores scores = evaluate_squad_v2(dataset, {{"a", ""}, {"b", "x"}, {"c", "z"}, {"d", "w"}});
  CHECK(score(scores, "exact") == 25.0);
  CHECK(score(scores, "f1") == 41.666666666666664);
  CHECK(score(scores, "best_exact") == 75.0);
  CHECK(score(scores, "best_f1") == 91.66666666666666);
  // A prediction of only spaces is an answer to the best-threshold walk (the script tests the
  // raw string) but normalizes to "", which the exact score counts right. From 1: "" then the
  // right answer: 1, 2 (100); " " then the right answer: 0, 1, the best still the start (50).
  const SquadDataset two = make_dataset({{"a", {}}, {"b", {"x y"}}});
  const SquadScores empty = evaluate_squad_v2(two, {{"a", ""}, {"b", "x y"}});
  const SquadScores spaces = evaluate_squad_v2(two, {{"a", " "}, {"b", "x y"}});
  CHECK(score(empty, "NoAns_exact") == 100.0);
  CHECK(score(spaces, "NoAns_exact") == 100.0);
  CHECK(score(empty, "best_exact") == 100.0);
  CHECK(score(spaces, "best_exact") == 50.0);
}

TEST_CASE("SQuAD v2.0 leaves out a group without questions", "[metric][v2]") {
  const SquadScores answerable = evaluate_squad_v2(make_dataset({{"a", {"x"}}}), {{"a", "x"}});
  CHECK(answerable.find("HasAns_total") != nullptr);
  CHECK(answerable.find("NoAns_exact") == nullptr);
  const SquadScores unanswerable = evaluate_squad_v2(make_dataset({{"a", {}}}), {{"a", "x"}});
  CHECK(unanswerable.find("HasAns_exact") == nullptr);
  CHECK(score(unanswerable, "NoAns_exact") == 0.0);
  CHECK(score(unanswerable, "best_exact") == 100.0);  // the empty prefix: no question answered
}

TEST_CASE("SQuAD v2.0 needs a prediction for every question", "[metric][v2]") {
  const SquadDataset dataset = make_dataset({{"a", {"x"}}, {"b", {}}, {"c", {}}});
  try {
    evaluate_squad_v2(dataset, {{"a", "x"}, {"elsewhere", "y"}});
    FAIL("missing predictions were scored");
  } catch (const InputError& e) {
    CHECK_THAT(e.what(), Catch::Contains("v2.json") && Catch::Contains("question b") &&
                             Catch::Contains("2 missing (b, c)") && Catch::Contains("\"\" for no answer"));
  }
  const SquadScores scores = evaluate_squad_v2(dataset, {{"a", "x"}, {"b", ""}, {"c", ""}, {"elsewhere", "y"}});
  CHECK(scores.unknown_predictions == 1);
  CHECK(score(scores, "exact") == 100.0);
  CHECK(evaluate_squad_version(dataset, {{"a", "x"}}, false).named.size() == 2);  // v1.1: exact_match, f1
  CHECK(squad_v2_ranking_scores().size() == 8);
}

TEST_CASE("SQuAD v2.0 with no-answer probabilities (the official --na-prob-file)", "[metric][v2]") {
  // a right, b (unanswerable) answered "w", c (answerable) left empty, d (unanswerable) empty.
  const SquadDataset dataset = make_dataset({{"a", {"x y"}}, {"b", {}}, {"c", {"z"}}, {"d", {}}});
  const PredictionMap predictions = {{"a", "x y"}, {"b", "w"}, {"c", ""}, {"d", ""}};
  NoAnswerProbabilities no_answer;
  no_answer.in_file_order = {{"d", 0.9}, {"a", 0.1}, {"c", 0.7}, {"b", 0.5}, {"elsewhere", 0.0}};
  no_answer.path = "na.json";
  // Threshold 1.0: nothing changes; raw exact (1 + 0 + 0 + 1) / 4.
  const SquadScores plain = evaluate_squad_v2(dataset, predictions, &no_answer);
  CHECK(score(plain, "exact") == 50.0);
  // Walked by probability: a (+1: 3, the best, at 0.1), b (-1), c (+0), d (0).
  CHECK(score(plain, "best_exact") == 75.0);
  CHECK(score(plain, "best_exact_thresh") == 0.1);
  CHECK(score(plain, "best_f1_thresh") == 0.1);
  // Threshold 0.4: b, c and d count as answered "no answer": b becomes right.
  no_answer.threshold = 0.4;
  const SquadScores cut = evaluate_squad_v2(dataset, predictions, &no_answer);
  CHECK(score(cut, "exact") == 75.0);
  CHECK(score(cut, "NoAns_exact") == 100.0);
  CHECK(score(cut, "HasAns_exact") == 50.0);
  CHECK(score(cut, "best_exact") == 75.0);  // the walk uses the raw scores

  // Equal probabilities keep the file's order (Python's stable sort): the best prefix ends at
  // x only when x comes first.
  const SquadDataset pair = make_dataset({{"x", {"a"}}, {"y", {}}});
  const PredictionMap answered = {{"x", "a"}, {"y", "b"}};
  NoAnswerProbabilities x_first{{{"x", 0.5}, {"y", 0.5}}, 1.0, "na.json"};
  NoAnswerProbabilities y_first{{{"y", 0.5}, {"x", 0.5}}, 1.0, "na.json"};
  const SquadScores first = evaluate_squad_v2(pair, answered, &x_first);
  const SquadScores second = evaluate_squad_v2(pair, answered, &y_first);
  CHECK(score(first, "best_exact") == 100.0);
  CHECK(score(first, "best_exact_thresh") == 0.5);
  CHECK(score(second, "best_exact") == 50.0);
  CHECK(score(second, "best_exact_thresh") == 0.0);

  // Every question needs a probability.
  NoAnswerProbabilities short_file{{{"a", 0.1}, {"b", 0.2}}, 1.0, "na.json"};
  try {
    evaluate_squad_v2(dataset, predictions, &short_file);
    FAIL("questions without a probability were scored");
  } catch (const InputError& e) {
    CHECK_THAT(e.what(), Catch::Contains("na.json") && Catch::Contains("[c]") && Catch::Contains("2 missing (c, d)"));
  }
}

}  // namespace bert
