// predictions.json ({qid: text}), nbest_predictions.json ({qid: [{text, probability,
// start_logit, end_logit}, ...]}) and, for SQuAD v2.0, null_odds.json ({qid: score_diff}) as
// Hugging Face's run_qa.py writes them (json.dumps with
// indent=4, keys in example order), except that UTF-8 is written as is rather than as \u
// escapes; control characters, '"' and '\' are escaped. Numbers are printed as Python's
// repr(float) prints them (format_json_number with NonFiniteJson::kPythonNames: shortest
// round-trip digits, "1.0", "1e-05"), so a file or a printed metric reads the same as the Python
// tools' output. Writes are atomic (write_file_atomic).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "data/postprocess.h"
#include "core/json_text.h"  // json_quote, format_json_number
#include "data/squad_metric.h"

namespace bert {

std::string predictions_to_json(const PostprocessResult& result);
std::string nbest_predictions_to_json(const PostprocessResult& result);
void write_predictions(const std::string& path, const PostprocessResult& result);
void write_nbest_predictions(const std::string& path, const PostprocessResult& result);
std::string null_odds_to_json(const PostprocessResult& result);
void write_null_odds(const std::string& path, const PostprocessResult& result);

// The scores as one JSON line, keys prefixed: {"exact_match": X, "f1": Y} for v1.1 (what the
// official evaluate-v1.1.py prints), every squad_v2 score in its order for v2.0; totals as
// integers, the rest as Python's repr of floats.
std::string scores_to_json(const SquadScores& scores, const std::string& prefix = "");

// qid -> text of a PostprocessResult, for evaluate_squad.
PredictionMap to_prediction_map(const PostprocessResult& result);

// Reads a predictions file: one JSON object whose values are strings. Malformed JSON, a
// non-object top level, a non-string value or a repeated key throw InputError naming the
// file, the key and what was expected. ids_in_file_order, when given, receives the keys in the
// file's order.
PredictionMap read_predictions(const std::string& path,
                               std::vector<std::string>* ids_in_file_order = nullptr);

// Reads the official v2.0 script's --na-prob-file: one JSON object {question id: number} (a
// null_odds.json serves), in the file's order. The same errors as read_predictions.
std::vector<std::pair<std::string, double>> read_no_answer_probabilities(const std::string& path);

}  // namespace bert
