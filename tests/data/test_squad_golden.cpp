// The host pipeline on the SQuAD v1.1 dev set (../shared) against Hugging Face and the official
// script: read_squad's counts, the golden metric cases of evaluate-v1.1.py, and the postprocess
// of dev articles 0-3 (predictions, EM and F1). Built with shared_data_main.cpp: without
// ../shared the binary reports itself skipped.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <set>
#include <string>

#include <simdjson.h>

#include "core/file_io.h"
#include "data/postprocess.h"
#include "data/predictions_io.h"
#include "data/squad.h"
#include "data/squad_metric.h"
#include "data/windows.h"
#include "tests/shared_data.h"
#include "tokenizer/wordpiece.h"

namespace bert {

TEST_CASE("read_squad reads the SQuAD v1.1 dev set", "[data][squad][shared]") {
  if (!bert::test::have_shared_file("data/squad/dev-v1.1.json", "SQuAD dev set")) return;
  const auto begin = std::chrono::steady_clock::now();
  const bert::SquadDataset data = bert::read_squad(bert::test::shared_path("data/squad/dev-v1.1.json"));
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin).count();
  std::printf("read_squad(dev-v1.1.json): %.1f ms\n", ms);
  CHECK(data.version == "1.1");
  REQUIRE(data.examples.size() == 10570);
  CHECK(data.examples.back().article == 47);
  size_t answers = 0;
  for (const auto& example : data.examples) answers += example.answers.size();
  CHECK(answers == 34726);
  CHECK(data.examples[0].id == "56be4db0acb8001400a502ec");
  CHECK(data.examples[0].answers[0].text == "Denver Broncos");
  CHECK(data.examples[0].answers[0].start_char == 177);
}

TEST_CASE("golden metric_cases match the official script", "[metric][golden]") {
  if (!test::have_shared_file("golden/postprocess.json.gz", "golden metric cases")) return;
  std::string text;
  for (const std::string& line : read_lines(test::shared_path("golden/postprocess.json.gz")))
    text += line + "\n";
  simdjson::dom::parser parser;
  const simdjson::dom::element root = parser.parse(text);
  int checked = 0;
  for (simdjson::dom::element c : root["metric_cases"].get_array()) {
    const std::string prediction{std::string_view(c["prediction"])};
    std::vector<std::string> truths;
    for (simdjson::dom::element t : c["ground_truths"].get_array())
      truths.emplace_back(std::string_view(t));
    INFO("prediction '" << prediction << "' vs '" << truths.front() << "'");
    CHECK(max_exact_match(prediction, truths) == double(c["exact_match"]));
    CHECK(max_f1(prediction, truths) == double(c["f1"]));
    ++checked;
  }
  CHECK(checked >= 10);
}

TEST_CASE("golden: postprocess of dev articles 0-3 matches Hugging Face", "[postprocess][golden]") {
  if (!test::have_shared_file("golden/postprocess.json.gz", "golden postprocess") ||
      !test::have_shared_file("data/squad/dev-v1.1.json", "SQuAD dev set") ||
      !test::have_shared_file("data/bert-base-uncased/vocab.txt", "bert-base-uncased vocab"))
    return;
  std::string text;
  for (const std::string& line : read_lines(test::shared_path("golden/postprocess.json.gz")))
    text += line + "\n";
  simdjson::dom::parser parser;
  const simdjson::dom::element golden = parser.parse(text);

  // The questions of the golden's articles, with their windows at 384/128.
  std::set<int64_t> articles;
  for (simdjson::dom::element a : golden["articles"].get_array()) articles.insert(int64_t(a));
  const SquadDataset full = read_squad(test::shared_path("data/squad/dev-v1.1.json"));
  SquadDataset dataset;
  dataset.path = full.path;
  dataset.version = full.version;
  for (const SquadExample& example : full.examples)
    if (articles.count(example.article)) dataset.examples.push_back(example);
  const WordPieceTokenizer tokenizer(test::shared_path("data/bert-base-uncased/vocab.txt"), true);
  const std::vector<Window> windows = build_windows(dataset, tokenizer, WindowConfig{384, 128});

  const simdjson::dom::array features = golden["features"].get_array();
  REQUIRE(windows.size() == features.size());
  std::vector<std::vector<float>> start(windows.size()), end(windows.size());
  size_t w = 0;
  for (simdjson::dom::element feature : features) {
    INFO("window " << w);
    REQUIRE(dataset.examples[windows[w].example_index].id ==
            std::string_view(feature["example_id"]));
    for (simdjson::dom::element v : feature["start_logits"].get_array())
      start[w].push_back(static_cast<float>(double(v)));  // float32 values, exact
    for (simdjson::dom::element v : feature["end_logits"].get_array())
      end[w].push_back(static_cast<float>(double(v)));
    REQUIRE(static_cast<int32_t>(start[w].size()) == windows[w].length());
    ++w;
  }

  PostprocessConfig config;
  config.n_best_size = static_cast<int32_t>(int64_t(golden["n_best_size"]));
  config.max_answer_length = static_cast<int32_t>(int64_t(golden["max_answer_length"]));
  const PostprocessResult result = postprocess_predictions(dataset, windows, start, end, config);
  CHECK(result.examples_without_candidates == 0);

  const simdjson::dom::object expected = golden["predictions"].get_object();
  REQUIRE(result.predictions.size() == expected.size());
  size_t mismatches = 0;
  for (const QaPrediction& p : result.predictions) {
    const std::string_view want = expected[p.id];
    if (p.text != want && mismatches++ < 5) WARN(p.id << ": got '" << p.text << "' want '" << want << "'");
  }
  CHECK(mismatches == 0);

  const SquadScores scores = evaluate_squad(dataset, to_prediction_map(result));
  CHECK(scores.total == static_cast<int64_t>(dataset.examples.size()));
  CHECK(scores.unanswered == 0);
  CHECK(std::fabs(scores.exact_match - double(golden["exact_match"])) <= 1e-9);
  CHECK(std::fabs(scores.f1 - double(golden["f1"])) <= 1e-9);
}

}  // namespace bert
