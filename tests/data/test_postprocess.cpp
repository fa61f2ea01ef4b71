// Span selection: hand-built windows exercising each rule of postprocess_qa_predictions (the
// golden run over the windows of dev articles 0-3: test_squad_golden.cpp).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>

#include <simdjson.h>

#include "data/postprocess.h"
#include "data/predictions_io.h"
#include "data/windows.h"
#include "core/error.h"
#include "core/file_io.h"

namespace bert {
namespace {

// A window over `context_tokens` context tokens preceded by [CLS] q [SEP] and followed by
// [SEP]; context token k covers code points [2k, 2k+1) (one character, then a space).
Window make_window(int32_t example_index, int32_t first_context_token, int32_t context_tokens) {
  Window window;
  window.example_index = example_index;
  const int32_t length = 3 + context_tokens + 1;
  window.input_ids.assign(length, 5);
  window.token_type_ids.assign(length, 0);
  window.offsets.assign(length, {-1, -1});
  for (int32_t k = 0; k < context_tokens; ++k) {
    const int32_t c = first_context_token + k;
    window.offsets[3 + k] = {2 * c, 2 * c + 1};
  }
  return window;
}

SquadDataset make_dataset(const std::vector<std::string>& contexts) {
  SquadDataset dataset;
  for (size_t i = 0; i < contexts.size(); ++i) {
    SquadExample example;
    example.id = "q" + std::to_string(i);
    example.context = contexts[i];
    dataset.examples.push_back(example);
  }
  return dataset;
}

}  // namespace

TEST_CASE("top_k_indices orders by value, ties by higher index first", "[postprocess]") {
  const float values[] = {0.5f, 2.0f, -1.0f, 2.0f, 3.0f, 0.5f};
  CHECK(top_k_indices(values, 6, 4) == std::vector<int32_t>{4, 3, 1, 5});
  CHECK(top_k_indices(values, 6, 10) == std::vector<int32_t>{4, 3, 1, 5, 0, 2});
  CHECK(top_k_indices(values, 6, 0).empty());
}

TEST_CASE("postprocess keeps only valid spans and picks the best score", "[postprocess]") {
  // Context "a b c d e f" (tokens a..f at code points 0,2,...,10).
  const SquadDataset dataset = make_dataset({"a b c d e f"});
  const std::vector<Window> windows = {make_window(0, 0, 6)};
  // Positions: 0 [CLS] 1 q 2 [SEP] 3..8 = a..f, 9 [SEP]. [CLS] has the highest logits, as
  // trained models give it, and must never be part of a span.
  std::vector<float> start = {9, -5, -5, 1, 2, 0.5f, 3, 0.1f, 0.2f, -5};
  std::vector<float> end = {9, -5, -5, 0.3f, 4, 0.2f, 0.1f, 1, 0.4f, -5};
  PostprocessConfig config;
  SECTION("end before start is skipped; special tokens never used") {
    const PostprocessResult result = postprocess_predictions(dataset, windows, {start}, {end}, config);
    REQUIRE(result.predictions.size() == 1);
    const QaPrediction& p = result.predictions[0];
    // Best pairs: b-b 2+4 = 6, a-b 1+4 = 5, d-e 3+1 = 4; d-b (3+4) has end before start.
    CHECK(p.text == "b");
    CHECK(p.nbest.front().score == 2.0f + 4.0f);
    CHECK(p.nbest.front().start_token == 4);
    CHECK(p.nbest.front().end_token == 4);
    CHECK(p.nbest[1].text == "a b");
    CHECK(p.nbest.size() == 20);  // 21 valid pairs in 6 context tokens, 20 kept
    for (size_t k = 1; k < p.nbest.size(); ++k) CHECK(p.nbest[k - 1].score >= p.nbest[k].score);
    float sum = 0;
    for (const NbestEntry& entry : p.nbest) sum += entry.probability;
    CHECK(sum == Approx(1.0f).epsilon(1e-6));
    CHECK(p.nbest[0].probability > p.nbest[1].probability);
    CHECK(result.examples_without_candidates == 0);
  }
  SECTION("max_answer_length and n_best_size limit the candidates") {
    config.max_answer_length = 1;
    config.n_best_size = 3;
    const PostprocessResult result = postprocess_predictions(dataset, windows, {start}, {end}, config);
    const QaPrediction& p = result.predictions[0];
    // Top-3 starts: [CLS], d, b; top-3 ends: [CLS], b, e. One-token spans: only b-b.
    REQUIRE(p.nbest.size() == 1);
    CHECK(p.text == "b");
    CHECK(p.nbest[0].probability == 1.0f);
  }
  SECTION("no valid span gives HF's placeholder") {
    config.n_best_size = 1;  // the best start and end are both [CLS]
    const PostprocessResult result = postprocess_predictions(dataset, windows, {start}, {end}, config);
    const QaPrediction& p = result.predictions[0];
    CHECK(p.text == kNoCandidateText);
    REQUIRE(p.nbest.size() == 1);
    CHECK(p.nbest[0].window == -1);
    CHECK(result.examples_without_candidates == 1);
    // utils_qa.py builds the placeholder's dict text first.
    const std::string nbest = nbest_predictions_to_json(result);
    CHECK(nbest.find("\"text\"") < nbest.find("\"start_logit\""));
    CHECK(nbest.find("\"end_logit\"") < nbest.find("\"probability\""));
  }
}

TEST_CASE("postprocess merges windows and sorts equal scores stably", "[postprocess]") {
  // Two overlapping windows of one example, then a second example with one window whose
  // context has multi-byte characters.
  const SquadDataset dataset = make_dataset({"a b c d e f", "\xC3\xA9 \xE2\x82\xAC z"});
  const std::vector<Window> windows = {make_window(0, 0, 4), make_window(0, 2, 4),
                                       make_window(1, 0, 3)};
  std::vector<std::vector<float>> start(3), end(3);
  // Window 0: c (pos 5) start 1, d (pos 6) end 1 -> "c d" score 2.
  start[0] = {0, 0, 0, -1, -2, 1, -3, 0};
  end[0] = {0, 0, 0, -1, -2, -3, 1, 0};
  // Window 1 covers c d e f at positions 3..6: the same span c-d scores 2 too.
  start[1] = {0, 0, 0, 1, -2, -3, -4, 0};
  end[1] = {0, 0, 0, -1, 1, -3, -4, 0};
  // Example 1: start at € (pos 4), end at z (pos 5).
  start[2] = {0, 0, 0, -1, 3, -2, 0};
  end[2] = {0, 0, 0, -1, -2, 3, 0};
  const PostprocessResult result =
      postprocess_predictions(dataset, windows, start, end, PostprocessConfig{});
  REQUIRE(result.predictions.size() == 2);
  const QaPrediction& p0 = result.predictions[0];
  CHECK(p0.text == "c d");
  REQUIRE(p0.nbest.size() >= 2);
  CHECK(p0.nbest[0].score == p0.nbest[1].score);
  CHECK(p0.nbest[0].window == 0);  // the tie keeps window order
  CHECK(p0.nbest[1].window == 1);
  CHECK(result.predictions[1].text == "\xE2\x82\xAC z");

  SECTION("written as HF's JSON files") {
    const std::string nbest = nbest_predictions_to_json(result);
    simdjson::dom::parser parser;
    const simdjson::dom::element root = parser.parse(nbest);
    CHECK(std::string_view(root["q1"].at(0)["text"]) == "\xE2\x82\xAC z");
    CHECK(double(root["q1"].at(0)["start_logit"]) == 3.0);
    // utils_qa.py's key order for a span: start_logit, end_logit, text, probability.
    const size_t start_key = nbest.find("\"start_logit\""), end_key = nbest.find("\"end_logit\"");
    const size_t text_key = nbest.find("\"text\""), probability_key = nbest.find("\"probability\"");
    CHECK((start_key < end_key && end_key < text_key && text_key < probability_key));
    // json.dumps' default (ensure_ascii) escapes the euro sign, as utils_qa.py's files hold it.
    CHECK(predictions_to_json(result) == "{\n    \"q0\": \"c d\",\n    \"q1\": \"\\u20ac z\"\n}\n");
  }
  SECTION("inconsistent inputs are errors") {
    std::vector<std::vector<float>> short_start = start;
    short_start[1].pop_back();
    CHECK_THROWS_AS(postprocess_predictions(dataset, windows, short_start, end, PostprocessConfig{}),
                    BertError);
    std::vector<std::vector<float>> nan_start = start;
    nan_start[2][4] = std::nanf("");
    CHECK_THROWS_AS(postprocess_predictions(dataset, windows, nan_start, end, PostprocessConfig{}),
                    BertError);
    PostprocessConfig bad;
    bad.n_best_size = 0;
    CHECK_THROWS_AS(postprocess_predictions(dataset, windows, start, end, bad), InputError);
    std::vector<Window> far = windows;
    far[2].offsets[5] = {4, 40};  // past the end of the 5-code-point context
    CHECK_THROWS_AS(postprocess_predictions(dataset, far, start, end, PostprocessConfig{}),
                    BertError);
  }
}

TEST_CASE("SQuAD v2.0: the null answer competes with the spans", "[postprocess][v2]") {
  // The first case's window: [CLS] (position 0) sums to 18, the best span b-b to 2 + 4 = 6.
  const SquadDataset dataset = make_dataset({"a b c d e f", "x y"});
  const std::vector<Window> windows = {make_window(0, 0, 6)};
  std::vector<float> start = {9, -5, -5, 1, 2, 0.5f, 3, 0.1f, 0.2f, -5};
  std::vector<float> end = {9, -5, -5, 0.3f, 4, 0.2f, 0.1f, 1, 0.4f, -5};
  PostprocessConfig config;
  config.version_2_with_negative = true;
  SECTION("a null score above the best span's predicts no answer") {
    const PostprocessResult result = postprocess_predictions(dataset, windows, {start}, {end}, config);
    CHECK(result.version_2_with_negative);
    const QaPrediction& p = result.predictions[0];
    CHECK(p.text.empty());
    CHECK(p.null_score_diff == 18.0f - 2.0f - 4.0f);
    REQUIRE(p.nbest.size() == 20);  // the null answer and the 19 best spans
    CHECK(p.nbest[0].text.empty());
    CHECK(p.nbest[0].score == 18.0f);
    CHECK(p.nbest[0].start_token == 0);
    CHECK(p.nbest[1].text == "b");
    // An example without windows has no null answer: the placeholder and a difference of 0.
    const QaPrediction& unseen = result.predictions[1];
    CHECK(unseen.text == kNoCandidateText);
    CHECK(unseen.null_score_diff == 0.0f);
    CHECK(result.examples_without_candidates == 1);
    CHECK(null_odds_to_json(result) == "{\n    \"q0\": 12.0,\n    \"q1\": 0.0\n}\n");
  }
  SECTION("the threshold is compared strictly") {
    config.null_score_diff_threshold = 12.0;  // 12 > 12 is false: the span
    CHECK(postprocess_predictions(dataset, windows, {start}, {end}, config).predictions[0].text == "b");
    config.null_score_diff_threshold = 11.5;
    CHECK(postprocess_predictions(dataset, windows, {start}, {end}, config).predictions[0].text.empty());
  }
  SECTION("a null answer outside the n best is appended after them") {
    start[0] = end[0] = -9;
    config.n_best_size = 2;  // starts d, b; ends b, e: b-b 6, d-e 4, b-e 3 (d-b runs backwards)
    const QaPrediction p = postprocess_predictions(dataset, windows, {start}, {end}, config).predictions[0];
    REQUIRE(p.nbest.size() == 3);
    CHECK(p.nbest[0].text == "b");
    CHECK(p.nbest[1].text == "d e");
    CHECK(p.nbest[2].text.empty());
    CHECK(p.nbest[2].score == -18.0f);
    CHECK(p.null_score_diff == -24.0f);
    CHECK(p.text == "b");
    CHECK(p.nbest[0].probability + p.nbest[1].probability + p.nbest[2].probability == Approx(1.0).epsilon(1e-6));
  }
  SECTION("with no span at all the placeholder goes first and the null answer competes with it") {
    config.n_best_size = 1;  // the best start and end are both [CLS]: no span
    const PostprocessResult result = postprocess_predictions(dataset, windows, {start}, {end}, config);
    const QaPrediction& p = result.predictions[0];
    REQUIRE(p.nbest.size() == 2);
    CHECK(p.nbest[0].text == kNoCandidateText);
    CHECK(p.nbest[1].text.empty());
    CHECK(p.null_score_diff == 18.0f);  // 18 - the placeholder's 0 + 0
    CHECK(p.text.empty());
    // numpy's float64 softmax of [0.0, 18] (the placeholder's score is a Python float).
    CHECK(p.nbest[1].probability == 1.0 / (1.0 + std::exp(-18.0)));
    CHECK(result.examples_without_candidates == 2);
  }
}

TEST_CASE("SQuAD v2.0: the null answer is the window with the smallest [CLS] sum", "[postprocess][v2]") {
  const SquadDataset dataset = make_dataset({"a b c d e f"});
  const std::vector<Window> windows = {make_window(0, 0, 4), make_window(0, 2, 4), make_window(0, 2, 4)};
  std::vector<std::vector<float>> start(3, std::vector<float>(8, 0.0f)), end = start;
  start[0][0] = 3;  // null sums 5, 3, 3: the second window's, the first of the two equal ones
  end[0][0] = 2;
  start[1][0] = 1;
  end[1][0] = 2;
  start[2][0] = 2;
  end[2][0] = 1;
  PostprocessConfig config;
  config.version_2_with_negative = true;
  const QaPrediction p = postprocess_predictions(dataset, windows, start, end, config).predictions[0];
  const auto null_entry = std::find_if(p.nbest.begin(), p.nbest.end(), [](const NbestEntry& e) { return e.text.empty(); });
  REQUIRE(null_entry != p.nbest.end());
  CHECK(null_entry->window == 1);
  CHECK(null_entry->score == 3.0f);
  CHECK(null_entry->start_logit == 1.0f);
  CHECK(p.null_score_diff == 3.0f);  // every span scores 0
  CHECK(p.text.empty());
}

}  // namespace bert
