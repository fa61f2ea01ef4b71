// The SQuAD v1.1 metric against the official script's semantics (hand cases whose values
// follow from evaluate-v1.1.py; the golden metric_cases: test_squad_golden.cpp), and
// predictions.json IO.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <unistd.h>

#include "data/predictions_io.h"
#include "data/squad_metric.h"
#include "core/error.h"
#include "core/file_io.h"

namespace bert {
namespace {

std::string temp_path(const std::string& name) {
  return "/tmp/bert_test_metric_" + std::to_string(::getpid()) + "_" + name;
}

SquadExample make_example(const std::string& id, std::vector<std::string> answers) {
  SquadExample example;
  example.id = id;
  example.context = "context";
  for (std::string& text : answers) example.answers.push_back({std::move(text), 0});
  return example;
}

}  // namespace

TEST_CASE("normalize_answer follows the official order of operations", "[metric]") {
  CHECK(normalize_answer("The  Normans!") == "normans");
  CHECK(normalize_answer("an apple a day") == "apple day");
  // Punctuation goes before articles, so "the-cat" becomes one word "thecat".
  CHECK(normalize_answer("the-cat") == "thecat");
  // Punctuation removal can expose an article: "(the)" -> "the" -> "".
  CHECK(normalize_answer("(the) end") == "end");
  // A letter glued to an article keeps it a longer word (Unicode \w).
  CHECK(normalize_answer("\xC3\xB1the cat") == "\xC3\xB1the cat");  // "ñthe cat"
  // Only ASCII punctuation is removed: curly quotes stay.
  CHECK(normalize_answer("\xE2\x80\x9Cquoted\xE2\x80\x9D") == "\xE2\x80\x9Cquoted\xE2\x80\x9D");
  // Unicode whitespace splits (NBSP, LINE SEPARATOR); ZERO WIDTH SPACE does not.
  CHECK(normalize_answer("A  B\xC2\xA0" "C") == "b c");
  CHECK(normalize_answer("line\xE2\x80\xA8sep") == "line sep");
  CHECK(normalize_answer("x\xE2\x80\x8By") == "x\xE2\x80\x8By");
  // Full lowercase mapping: U+0130 -> "i" + U+0307; É -> é.
  CHECK(normalize_answer("\xC4\xB0") == "i\xCC\x87");
  CHECK(normalize_answer("\xC3\x89" "COLE") == "\xC3\xA9" "cole");
  CHECK(normalize_answer("") == "");
  CHECK(normalize_answer("a an the") == "");
  CHECK_THROWS_AS(normalize_answer("bad \xFF utf8"), InputError);
}

TEST_CASE("f1_score and exact_match_score match evaluate-v1.1.py", "[metric]") {
  CHECK(exact_match_score("the", "a") == 1.0);  // both normalize to ""
  CHECK(f1_score("the", "a") == 0.0);           // no common token -> 0
  CHECK(f1_score("in France.", "France") == 2.0 * 0.5 * 1.0 / 1.5);
  CHECK(f1_score("Santa Clara, California", "Santa Clara") == 0.8);
  // Multiset intersection: "a b b" vs "b b b c": common b,b -> P = 2/3, R = 2/4.
  const double p = 1.0 * 2 / 3, r = 1.0 * 2 / 4;
  CHECK(f1_score("x b b", "b b b c") == (2 * p * r) / (p + r));
  CHECK(max_exact_match("Denver Broncos", {"Broncos", "Denver Broncos"}) == 1.0);
  CHECK(max_f1("Denver", {"Broncos", "Denver Broncos"}) == (2 * 1.0 * 0.5) / 1.5);
  CHECK_THROWS_AS(max_f1("x", {}), BertError);
}

TEST_CASE("evaluate_squad averages over every question of the dataset", "[metric]") {
  SquadDataset dataset;
  dataset.path = "tiny.json";
  dataset.examples = {make_example("q1", {"Normans", "the Normans"}),
                      make_example("q2", {"France"}), make_example("q3", {"x"}),
                      make_example("q4", {"y"})};
  const PredictionMap predictions = {
      {"q1", "The Normans"}, {"q2", "in France."}, {"q4", "z"}, {"extra", "ignored"}};
  const SquadScores scores = evaluate_squad(dataset, predictions);
  CHECK(scores.total == 4);
  CHECK(scores.unanswered == 1);
  CHECK(scores.unanswered_ids == std::vector<std::string>{"q3"});
  CHECK(scores.unknown_predictions == 1);
  CHECK(scores.exact_match == 100.0 * 1 / 4);
  CHECK(scores.f1 == 100.0 * (0.0 + 1.0 + 2.0 / 3.0 + 0.0) / 4);

  dataset.examples.push_back(make_example("q5", {}));
  PredictionMap with_q5 = predictions;
  with_q5["q5"] = "anything";
  try {
    evaluate_squad(dataset, with_q5);
    FAIL("a question without answers was scored");
  } catch (const InputError& e) {
    const std::string message = e.what();
    CHECK(message.find("tiny.json") != std::string::npos);
    CHECK(message.find("q5") != std::string::npos);
  }
}

TEST_CASE("format_json_number with Python's names prints like Python's repr", "[predictions_io]") {
  CHECK(format_json_number(59.166666666666664, NonFiniteJson::kPythonNames) == "59.166666666666664");
  CHECK(format_json_number(100.0, NonFiniteJson::kPythonNames) == "100.0");
  CHECK(format_json_number(0.0, NonFiniteJson::kPythonNames) == "0.0");
  CHECK(format_json_number(-0.0, NonFiniteJson::kPythonNames) == "-0.0");
  CHECK(format_json_number(0.1, NonFiniteJson::kPythonNames) == "0.1");
  CHECK(format_json_number(0.0001, NonFiniteJson::kPythonNames) == "0.0001");
  CHECK(format_json_number(0.00001, NonFiniteJson::kPythonNames) == "1e-05");
  CHECK(format_json_number(1.5e-7, NonFiniteJson::kPythonNames) == "1.5e-07");
  CHECK(format_json_number(1e15, NonFiniteJson::kPythonNames) == "1000000000000000.0");
  CHECK(format_json_number(1e16, NonFiniteJson::kPythonNames) == "1e+16");
  CHECK(format_json_number(1.25e300, NonFiniteJson::kPythonNames) == "1.25e+300");
  CHECK(format_json_number(-2.5, NonFiniteJson::kPythonNames) == "-2.5");
  CHECK(format_json_number(123456.75, NonFiniteJson::kPythonNames) == "123456.75");
  CHECK(format_json_number(static_cast<double>(0.1f), NonFiniteJson::kPythonNames) == "0.10000000149011612");
  CHECK(format_json_number(1.0 / 0.0, NonFiniteJson::kPythonNames) == "Infinity");
}

TEST_CASE("json_quote escapes what JSON needs and passes UTF-8 through", "[predictions_io]") {
  CHECK(json_quote("plain") == "\"plain\"");
  CHECK(json_quote("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(json_quote("t\tn\nr\r\x01") == "\"t\\tn\\nr\\r\\u0001\"");
  CHECK(json_quote("\xC3\xA9\xE2\x80\x9C") == "\"\xC3\xA9\xE2\x80\x9C\"");
}

TEST_CASE("json_quote with ASCII escapes writes what json.dumps' default writes",
          "[predictions_io]") {
  // Python: json.dumps('é“😀\x7f\x01 a') == '"\\u00e9\\u201c\\ud83d\\ude00\\u007f\\u0001 a"'
  CHECK(json_quote("\xC3\xA9\xE2\x80\x9C\xF0\x9F\x98\x80\x7F\x01 a", JsonChars::kAscii) ==
        "\"\\u00e9\\u201c\\ud83d\\ude00\\u007f\\u0001 a\"");
  CHECK(json_quote("\xF4\x8F\xBF\xBF", JsonChars::kAscii) == "\"\\udbff\\udfff\"");  // U+10FFFF
  // Not UTF-8: a lone continuation byte, a truncated sequence, an overlong '/', a surrogate.
  CHECK(json_quote("\x80x\xE2\x80", JsonChars::kAscii) == "\"\\ufffdx\\ufffd\\ufffd\"");
  CHECK(json_quote("\xC0\xAF\xED\xA0\x80", JsonChars::kAscii) ==
        "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

TEST_CASE("predictions files round-trip and bad ones name the file", "[predictions_io]") {
  PostprocessResult result;
  result.predictions.push_back({"q1", "Denver \"Broncos\"\n\xC3\xA9", {}});
  result.predictions.push_back({"q2", "", {}});
  const std::string path = temp_path("predictions.json");
  write_predictions(path, result);
  const PredictionMap read = read_predictions(path);
  CHECK(read.size() == 2);
  CHECK(read.at("q1") == "Denver \"Broncos\"\n\xC3\xA9");
  CHECK(read.at("q2") == "");
  // Keys in example order, as HF writes them (indent 4).
  CHECK(read_file(path) ==
        "{\n    \"q1\": \"Denver \\\"Broncos\\\"\\n\\u00e9\",\n    \"q2\": \"\"\n}\n");

  auto expect_error = [&](const std::string& content, const std::string& fragment) {
    write_file_atomic(path, content);
    try {
      read_predictions(path);
      FAIL("accepted: " << content);
    } catch (const InputError& e) {
      const std::string message = e.what();
      INFO(message);
      CHECK(message.find(path) != std::string::npos);
      CHECK(message.find(fragment) != std::string::npos);
    }
  };
  expect_error("[\"q1\"]", "expected a JSON object");
  expect_error("{\"q1\": 3}", "[\"q1\"]: expected a string");
  expect_error("{\"q1\": \"a\", \"q1\": \"b\"}", "appears twice");
  expect_error("{\"q1\": \"a\",}", "byte");
  expect_error("{\"q1\": \"a\xFF\"}", "invalid UTF-8");
  std::remove(path.c_str());
  CHECK_THROWS_AS(read_predictions(temp_path("missing.json")), InputError);
}

}  // namespace bert
